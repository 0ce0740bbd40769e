"""High-level functions: export of the student."""
from .export import export_student

__all__ = ['export_student']
