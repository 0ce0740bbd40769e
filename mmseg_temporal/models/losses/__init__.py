"""Loss modules of the method: TL, SF (pixel-wise + pair-wise), PF, MF."""
