// A Gaussian-process regression model for model-based search: Matern-5/2 kernel with one length scale per
// input dimension (ARD), signal and noise variances, fitted by maximising the marginal likelihood with weak
// log-normal priors (a MAP fit that stays sane with a handful of points). Inputs live in [0, 1]^d (see
// GpSearch's encoding); targets are standardised inside Fit().
//
// A plain value: build, Fit(), then Predict() from any one thread. Fit() costs O(n^3) per likelihood
// evaluation and uses a bounded number of them, so callers cap n (GpSearch keeps at most a few hundred
// points).
#pragma once

#include <Eigen/Dense>
#include <vector>

#include "hyperion/common/status.h"

namespace hyperion {

class GaussianProcess {
 public:
  struct Prediction {
    double mean = 0;    // in the units of the targets given to Fit()
    double stddev = 0;  // of the latent function, same units
  };

  // Fits hyperparameters and the posterior to rows of `x` (n x d) and `y` (n). kInvalidArgument when n == 0
  // or the shapes disagree; kInternal when the covariance cannot be factorised even with added jitter.
  Status Fit(const Eigen::MatrixXd& x, const Eigen::VectorXd& y);

  Prediction Predict(const Eigen::VectorXd& point) const;
  // The posterior mean alone, O(n) instead of Predict()'s O(n^2): for averages over many points.
  double PredictMean(const Eigen::VectorXd& point) const;

  // Length scales of the fitted kernel, one per input dimension (short = the function changes fast along it).
  const Eigen::VectorXd& length_scales() const { return length_scales_; }
  double noise_variance() const { return noise_; }

 private:
  double Kernel(const Eigen::VectorXd& a, const Eigen::VectorXd& b, const Eigen::VectorXd& inv_scales) const;
  // Negative log marginal likelihood plus the priors' negative log density, for log-parameters `theta`
  // = [log length scales..., log signal variance, log noise variance]; +inf when the factorisation fails.
  double NegativeLogPosterior(const Eigen::VectorXd& theta) const;
  Status Posterior(const Eigen::VectorXd& theta);

  Eigen::MatrixXd x_;
  Eigen::VectorXd y_;  // standardised
  double y_mean_ = 0, y_scale_ = 1;
  Eigen::VectorXd length_scales_;
  double signal_ = 1, noise_ = 1e-3;
  Eigen::LLT<Eigen::MatrixXd> chol_;
  Eigen::VectorXd alpha_;
};

}  // namespace hyperion
