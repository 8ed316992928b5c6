"""Experiments that exist for one course page, built from the core's modules: toy inputs (seeded words, embeddings,
projections), permutation tests, softmax statistics, scoring costs, the mask gallery, the residual stream walk, the
three families on live examples, uploaded-image validation. The core's root never imports this package."""
