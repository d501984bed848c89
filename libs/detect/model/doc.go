// Package model is Bulwark's learned detector: gradient-boosted decision
// trees over the aggregator's feature vectors (features.Vector), trained from
// labelled subjects by `bulwark train` and applied by the aggregator next to
// the weighted rule scorer (shadow, blend or replace).
//
// The trees are trained here, by hand, rather than with a library: no
// maintained pure-Go library trains gradient-boosted trees (leaves only runs
// LightGBM/XGBoost models, golearn has no boosting and is unmaintained), and
// calling out to Python or C++ would give up the single static binary and
// reproducible, offline training. The implementation is the small core of
// XGBoost/LightGBM: logistic loss, second-order gain, quantile histograms
// with a missing-value bin whose direction each split learns, depth-wise
// growth with L2 regularisation.
//
// A model is a versioned JSON file (File) that records its feature schema by
// name, so that a build with more features still reads an older model (the
// new features are simply unused) and a model naming a feature this build
// does not know is refused. Predictions explain themselves with tree path
// contributions (Saabas): every split a subject's path takes credits the
// change of the expected output to the split's feature, so the reasons name
// the features that moved the probability most.
//
// The seed's small neural network is the other kind of model (Params.Algo
// KindMLP, mlp.go): one or two ReLU layers over standardised inputs, in the
// same file format and behind the same Model, so the aggregator, replay and
// promotion do not care which they hold. Trees are the default because
// they did better on held-out simulator traffic (BENCHMARKS.md).
package model
