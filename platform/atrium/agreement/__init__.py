"""Agreement computations over annotations and predictions, and the reports built from them."""
