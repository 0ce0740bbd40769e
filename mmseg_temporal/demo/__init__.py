"""The video demo: overlays, side-by-side panels, per-frame TC, the TC
curve and a summary of a model run over a video."""
from .summary import format_summary, latency_stats
from .video_demo import run_video_demo

__all__ = ['run_video_demo', 'format_summary', 'latency_stats']
