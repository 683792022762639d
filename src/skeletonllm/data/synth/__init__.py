"""The synthetic dataset `synth`: a kinematic body, parametric actions, captions, format views and the archive."""
