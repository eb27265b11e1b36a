"""Routes only ``flysim-fly`` uses (``/_flyctl/...``): what flyctl does over GraphQL
(releases and the app config each carries, status, apps list) and ``fly scale count``.
Deploys, ``fly scale vm`` and ``fly apps restart`` are orchestrated by ``flysim-fly`` itself
over the Machines API, as flyctl does them. Token required."""
