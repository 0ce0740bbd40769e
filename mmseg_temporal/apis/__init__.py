"""High-level functions: export of the student, per-frame video demo,
resumable experiment steps."""
from .experiment import cpu_ms_per_frame, test_checkpoint, train_unless_done
from .export import export_student
from .video import (FrameSegmentor, FrameSource, VideoInputError,
                    default_palette, format_summary, latency_stats,
                    model_palette, overlay_prediction, plot_tc_curve,
                    run_video_demo, side_by_side)

__all__ = [
    'export_student', 'run_video_demo', 'FrameSource', 'FrameSegmentor',
    'VideoInputError', 'default_palette', 'model_palette',
    'overlay_prediction', 'side_by_side', 'plot_tc_curve', 'latency_stats',
    'format_summary', 'train_unless_done', 'test_checkpoint',
    'cpu_ms_per_frame'
]
