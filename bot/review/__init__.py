"""The not-understood review: grouping what the assistant missed, and exporting what supervisors labelled
as training examples."""
