"""The walk-through: one lesson per app page and notebook (lessons), the statements each page checks on the
model on screen (claims), the charts (charts), the words (glossary) and the specimens compared (compare)."""
