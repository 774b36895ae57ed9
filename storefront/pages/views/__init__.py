"""Server-rendered storefront pages. Views parse input, call domain interfaces, render."""
