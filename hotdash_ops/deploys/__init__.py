"""Deploying and rolling back: the Infrastructure Operations Runbook's Deployment Procedures, pure.

* `config`         the inventory's `deploy:` section (repository, test commands, secrets)
* `repository`     the HotDash repository: "merged to main", a worktree per commit, tags
* `parity`         Standard Deployment step 2: verify environment parity
* `test_commands`  Standard Deployment step 3: run the tests (`npm run test:unit`, `test:e2e`)
* `provenance`     which commit an image was built from and how its tests went
* `smoke`          Standard Deployment step 5: the automated smoke test's verdict
* `record`         what a deploy or rollback run did, step by step
* `promotion`      Production Deployment: the image staging runs now, by digest
* `release_tag`    Production Deployment step 1: `vYYYY.MM.DD<letter>`
* `window`         when production may be deployed: off-hours if critical, freezes
* `approvals`      Production Deployment step 2: the manager and reliability approvals
* `regression`     Production Deployment steps 3-4: monitor and verify production after a deploy
* `canary_judge`   Production Deployment, canary strategy: is the canary worse (Mann-Whitney U)?
* `release_choice` Rollback: which release runs now and which one a rollback redeploys
"""
