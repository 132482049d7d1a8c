"""activity_log package."""
