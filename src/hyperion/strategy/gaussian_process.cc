#include "hyperion/strategy/gaussian_process.h"

#include <cmath>
#include <limits>

namespace hyperion {
namespace {

constexpr double kSqrt5 = 2.23606797749979;
// Weak priors, in log space: length scales around 0.5 of the unit range, noise around 1e-3 of the
// (standardised) signal. They keep a fit on few points from collapsing to zero noise or infinite length
// scales.
constexpr double kLogScaleMean = -0.69, kLogScaleSd = 1.5;
constexpr double kLogNoiseMean = -6.9, kLogNoiseSd = 2.0;
constexpr double kLogSignalMean = 0.0, kLogSignalSd = 1.0;

double NormalNegLog(double v, double mean, double sd) { return 0.5 * ((v - mean) / sd) * ((v - mean) / sd); }

}  // namespace

double GaussianProcess::Kernel(const Eigen::VectorXd& a, const Eigen::VectorXd& b,
                               const Eigen::VectorXd& inv_scales) const {
  double r = ((a - b).cwiseProduct(inv_scales)).norm();
  return (1 + kSqrt5 * r + 5.0 / 3.0 * r * r) * std::exp(-kSqrt5 * r);
}

double GaussianProcess::NegativeLogPosterior(const Eigen::VectorXd& theta) const {
  const Eigen::Index n = x_.rows(), d = x_.cols();
  Eigen::VectorXd inv_scales = (-theta.head(d)).array().exp();
  double signal = std::exp(theta(d)), noise = std::exp(theta(d + 1));
  Eigen::MatrixXd k(n, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j <= i; ++j) {
      double v = signal * Kernel(x_.row(i), x_.row(j), inv_scales);
      k(i, j) = k(j, i) = v;
    }
    k(i, i) += noise + 1e-9;
  }
  Eigen::LLT<Eigen::MatrixXd> llt(k);
  if (llt.info() != Eigen::Success) return std::numeric_limits<double>::infinity();
  Eigen::VectorXd alpha = llt.solve(y_);
  double log_det = 2 * llt.matrixL().toDenseMatrix().diagonal().array().log().sum();
  double nll = 0.5 * y_.dot(alpha) + 0.5 * log_det;
  for (Eigen::Index i = 0; i < d; ++i) nll += NormalNegLog(theta(i), kLogScaleMean, kLogScaleSd);
  nll += NormalNegLog(theta(d), kLogSignalMean, kLogSignalSd);
  nll += NormalNegLog(theta(d + 1), kLogNoiseMean, kLogNoiseSd);
  return nll;
}

Status GaussianProcess::Posterior(const Eigen::VectorXd& theta) {
  const Eigen::Index n = x_.rows(), d = x_.cols();
  length_scales_ = theta.head(d).array().exp();
  signal_ = std::exp(theta(d));
  noise_ = std::exp(theta(d + 1));
  Eigen::VectorXd inv_scales = length_scales_.cwiseInverse();
  for (double jitter : {1e-9, 1e-6, 1e-4, 1e-2}) {
    Eigen::MatrixXd k(n, n);
    for (Eigen::Index i = 0; i < n; ++i) {
      for (Eigen::Index j = 0; j <= i; ++j)
        k(i, j) = k(j, i) = signal_ * Kernel(x_.row(i), x_.row(j), inv_scales);
      k(i, i) += noise_ + jitter;
    }
    chol_.compute(k);
    if (chol_.info() == Eigen::Success) {
      alpha_ = chol_.solve(y_);
      return Status::Ok();
    }
  }
  return InternalError("the GP covariance matrix could not be factorised");
}

Status GaussianProcess::Fit(const Eigen::MatrixXd& x, const Eigen::VectorXd& y) {
  if (x.rows() == 0 || x.rows() != y.size())
    return InvalidArgumentError("GP fit needs matching, non-empty x and y");
  x_ = x;
  y_mean_ = y.mean();
  double var = (y.array() - y_mean_).square().mean();
  y_scale_ = var > 1e-24 ? std::sqrt(var) : 1.0;
  y_ = (y.array() - y_mean_) / y_scale_;

  // Coordinate search over the log-parameters with shrinking steps: derivative-free, bounded in cost
  // ((d + 2) * 2 * rounds evaluations) and deterministic.
  const Eigen::Index d = x.cols();
  Eigen::VectorXd theta(d + 2);
  theta.head(d).setConstant(std::log(0.3));
  theta(d) = 0;
  theta(d + 1) = std::log(1e-3);
  double best = NegativeLogPosterior(theta);
  for (double step : {1.0, 0.5, 0.25}) {
    for (int sweep = 0; sweep < 2; ++sweep) {
      bool improved = false;
      for (Eigen::Index i = 0; i < theta.size(); ++i) {
        for (double direction : {+1.0, -1.0}) {
          Eigen::VectorXd trial = theta;
          trial(i) = std::clamp(trial(i) + direction * step, -7.0, 4.0);
          double v = NegativeLogPosterior(trial);
          if (v < best) {
            best = v;
            theta = trial;
            improved = true;
            break;
          }
        }
      }
      if (!improved) break;
    }
  }
  return Posterior(theta);
}

GaussianProcess::Prediction GaussianProcess::Predict(const Eigen::VectorXd& point) const {
  const Eigen::Index n = x_.rows();
  Eigen::VectorXd inv_scales = length_scales_.cwiseInverse();
  Eigen::VectorXd k_star(n);
  for (Eigen::Index i = 0; i < n; ++i) k_star(i) = signal_ * Kernel(x_.row(i), point, inv_scales);
  double mean = k_star.dot(alpha_);
  Eigen::VectorXd v = chol_.matrixL().solve(k_star);
  double variance = std::max(signal_ - v.squaredNorm(), 1e-12);
  return Prediction{y_mean_ + y_scale_ * mean, y_scale_ * std::sqrt(variance)};
}

double GaussianProcess::PredictMean(const Eigen::VectorXd& point) const {
  const Eigen::Index n = x_.rows();
  Eigen::VectorXd inv_scales = length_scales_.cwiseInverse();
  double mean = 0;
  for (Eigen::Index i = 0; i < n; ++i) mean += signal_ * Kernel(x_.row(i), point, inv_scales) * alpha_(i);
  return y_mean_ + y_scale_ * mean;
}

}  // namespace hyperion
