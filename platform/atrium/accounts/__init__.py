"""Users, roles, study membership, API tokens and the audit log."""
