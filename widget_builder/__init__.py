"""Chat widgets (tenant schema): appearance, behaviour, prechat forms, embed keys."""
