"""Tools around the product: the evaluation against gold labels, the benchmarks, the embedder distillation."""
