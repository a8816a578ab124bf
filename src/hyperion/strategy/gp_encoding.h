// The Gaussian process's view of a point of the space, shared by GpSearch and the analyst (agent/): the
// feature encoding, the neighbourhood moves its acquisition search makes and the expected improvement.
//
// Encoding: floats and ints by Space::ToUnit (log scale and steps respected); categoricals and bools one-hot,
// so no order is invented between choices. A conditional parameter that is inactive is kept apart from its
// active values: a choice is all zeros, a number gets a second feature, an active flag, that is 0. Pure
// functions (Perturb draws from the caller's generator); any thread.
#pragma once

#include <Eigen/Dense>
#include <random>

#include "hyperion/common/json.h"
#include "hyperion/space/space.h"
#include "hyperion/strategy/gaussian_process.h"

namespace hyperion::gp {

// Features of one parameter: one per choice (one-hot), or the unit value plus, for a conditional number, a
// flag that says whether it is active.
int FeatureWidth(const ParamSpec& spec);
int FeatureCount(const Space& space);

// The feature vector of `params` (FeatureCount(space) entries).
Eigen::VectorXd Encode(const Space& space, const Json& params);

// A neighbour of `params`: numbers moved by a Gaussian step of `sd` in unit space, choices switched now and
// then. Built in the space's order, so a switched choice drops the parameters it switches off and draws the
// ones it switches on.
Json Perturb(const Space& space, const Json& params, double sd, std::mt19937_64& rng);

// Expected improvement below `best` (values minimised), with a margin that keeps EI from re-sampling the
// incumbent.
double ExpectedImprovement(const GaussianProcess::Prediction& p, double best, double margin);

}  // namespace hyperion::gp
