"""Manager web views (Panel) behind the business login."""
