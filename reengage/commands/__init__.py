"""The `reengage` command line's commands for a user's own data: check-exports, backfill and run."""
