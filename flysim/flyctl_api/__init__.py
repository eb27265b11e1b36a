"""Routes only ``flysim-fly`` uses (``/_flyctl/...``): what flyctl does over GraphQL and with
its own orchestration (releases, deploy, scale, restart, status). Token required."""
