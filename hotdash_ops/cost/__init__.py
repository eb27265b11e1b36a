"""Costs: the Infrastructure Operations Runbook's Weekly Cost Review and Cost Management, pure.

* `pricing`    the price table (the inventory's `prices:`, Fly's list prices with their source)
* `estimate`   cost arithmetic on pandas: machines and volumes priced per app and per month
* `findings`   Weekly Cost Review: unused resources and recommendations with their saving
* `snapshots`  one snapshot per weekly review, and the change against last week
* `report`     the weekly review and the monthly report (Cost Monitoring)
* `chart`      the monthly report's chart of cost by app
* `autostop`   Enable Auto-Stop (background services): the service changes and their saving
* `volumes`    Volume Management: the volume table, unused volumes, extend rules
"""
