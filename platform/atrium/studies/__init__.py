"""Reading studies, label schemas, cases and assignments."""
