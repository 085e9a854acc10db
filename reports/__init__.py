"""Email reports: each owner's and admin's daily or weekly summary of the workspace's
analytics (key figures, the change from the period before, the top unanswered questions)."""
