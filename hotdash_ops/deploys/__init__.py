"""Deploying and rolling back: the Infrastructure Operations Runbook's Deployment Procedures, pure.

* `config`         the inventory's `deploy:` section (test commands, checkout, source roots)
* `parity`         Standard Deployment step 2: verify environment parity
* `test_commands`  Standard Deployment step 3: run the tests (`npm run test:unit`, `test:e2e`)
* `smoke`          Standard Deployment step 5: the automated smoke test's verdict
* `record`         what a deploy or rollback run did, step by step
* `promotion`      Production Deployment: the image staging runs now, by digest
* `release_tag`    Production Deployment step 1: `vYYYY.MM.DD<letter>`
* `git_tags`       the release tag in the app's git repository
* `window`         when production may be deployed
* `approvals`      Production Deployment step 2: the manager and reliability approvals
* `regression`     Production Deployment steps 3-4: monitor and verify production after a deploy
* `release_choice` Rollback: which release runs now and which one a rollback redeploys
"""
