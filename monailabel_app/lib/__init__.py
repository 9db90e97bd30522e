"""The FOD alpha-WGAN MONAI Label app's tasks: synthesis (an infer task) and training (drives the bundle)."""
