"""faq domain."""
