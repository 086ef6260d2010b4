"""Running the app unattended: the dashboard's daily figures (rollup), pruning old rows
(retention), the poller's health, and the system checks."""
