// Python bindings for the optimizer update kernels (kernels/optim/optim.h).
//
// Every function updates its array arguments in place and returns None. The arrays must be
// float32, C-contiguous, of one shape (the variable's), and must not share memory; the variable
// and the slot arrays must be writeable. Anything else raises TypeError/ValueError naming the
// function, the argument and what was received.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "kernels/optim/muon_schedule_free.h"
#include "kernels/optim/optim.h"

namespace fastkeras::bindings {
namespace {

std::string type_name(const py::handle& obj) {
  return std::string(py::str(py::type::of(obj).attr("__name__")));
}

// The operands of one update call, checked against the variable's shape.
class Operands {
 public:
  Operands(const char* fn, const py::object& var, const py::object& grad) : fn_(fn) {
    var_ = to_array(var, "var");
    check_common(var_, "var", /*writeable=*/true);
    grad_ = to_array(grad, "grad");
    check_common(grad_, "grad", /*writeable=*/false);
    check_shape(grad_, "grad");
    arrays_.push_back({var_, "var"});
    arrays_.push_back({grad_, "grad"});
  }

  float* var() { return static_cast<float*>(var_.mutable_data()); }
  const float* grad() const { return static_cast<const float*>(grad_.data()); }
  int64_t size() const { return static_cast<int64_t>(var_.size()); }

  // A slot array (momentum, velocity, ...): same shape as the variable, writeable.
  float* slot(const py::object& obj, const char* arg) {
    py::array a = to_array(obj, arg);
    check_common(a, arg, /*writeable=*/true);
    check_shape(a, arg);
    for (const auto& [other, other_name] : arrays_) {
      if (overlaps(a, other)) {
        throw py::value_error(std::string(fn_) + ": `" + arg + "` shares memory with `" +
                              other_name + "`; each state array must be separate");
      }
    }
    arrays_.push_back({a, arg});
    return static_cast<float*>(a.mutable_data());
  }

  // A state array of its own shape (Adafactor's row and column statistics): float32,
  // C-contiguous, writeable, of exactly `shape`, sharing memory with no other operand.
  float* shaped_slot(const py::object& obj, const char* arg,
                     const std::vector<py::ssize_t>& shape) {
    py::array a = to_array(obj, arg);
    check_common(a, arg, /*writeable=*/true);
    bool same = a.ndim() == static_cast<py::ssize_t>(shape.size());
    for (py::ssize_t i = 0; same && i < a.ndim(); ++i) same = a.shape(i) == shape[i];
    if (!same) {
      std::string want = "(";
      for (size_t i = 0; i < shape.size(); ++i) {
        want += std::to_string(shape[i]) + (shape.size() == 1 ? "," : "");
        if (i + 1 < shape.size()) want += ", ";
      }
      want += ")";
      throw py::value_error(std::string(fn_) + ": `" + arg + "` must have shape " + want +
                            " for `var` of shape " + shape_str(var_) + ", received shape " +
                            shape_str(a));
    }
    for (const auto& [other, other_name] : arrays_) {
      if (overlaps(a, other)) {
        throw py::value_error(std::string(fn_) + ": `" + arg + "` shares memory with `" +
                              other_name + "`; each state array must be separate");
      }
    }
    arrays_.push_back({a, arg});
    return static_cast<float*>(a.mutable_data());
  }

  const py::array& var_array() const { return var_; }

  // A slot that may be None (absent for this configuration).
  float* optional_slot(const py::object& obj, const char* arg) {
    return obj.is_none() ? nullptr : slot(obj, arg);
  }

  void check_var_grad_disjoint() const {
    if (overlaps(var_, grad_)) {
      throw py::value_error(std::string(fn_) + ": `grad` shares memory with `var`");
    }
  }

 private:
  py::array to_array(const py::object& obj, const char* arg) const {
    if (!py::isinstance<py::array>(obj)) {
      throw py::type_error(std::string(fn_) + ": `" + arg +
                           "` must be a float32 numpy array, received an object of type " +
                           type_name(obj));
    }
    return obj.cast<py::array>();
  }

  void check_common(const py::array& a, const char* arg, bool writeable) const {
    require_float32(a, fn_, arg);
    if (!(a.flags() & py::array::c_style)) {
      throw py::value_error(std::string(fn_) + ": `" + arg + "` of shape " + shape_str(a) +
                            " must be C-contiguous (pass np.ascontiguousarray(" + arg + "))");
    }
    if (writeable && !a.writeable()) {
      throw py::value_error(std::string(fn_) + ": `" + arg +
                            "` is read-only; it is updated in place");
    }
  }

  void check_shape(const py::array& a, const char* arg) const {
    bool same = a.ndim() == var_.ndim();
    for (py::ssize_t i = 0; same && i < a.ndim(); ++i) same = a.shape(i) == var_.shape(i);
    if (!same) {
      throw py::value_error(std::string(fn_) + ": `" + arg + "` must have the shape of `var` " +
                            shape_str(var_) + ", received shape " + shape_str(a));
    }
  }

  const char* fn_;
  py::array var_, grad_;
  std::vector<std::pair<py::array, const char*>> arrays_;
};

void sgd(const py::object& var, const py::object& grad, const py::object& momentum,
         float learning_rate, float mu, bool nesterov) {
  Operands ops("sgd_update", var, grad);
  ops.check_var_grad_disjoint();
  float* m = ops.optional_slot(momentum, "momentum");
  optim::SgdParams p{learning_rate, mu, nesterov};
  py::gil_scoped_release release;
  optim::sgd_update(ops.var(), ops.grad(), m, ops.size(), p);
}

void adam(const py::object& var, const py::object& grad, const py::object& m, const py::object& v,
          const py::object& velocity_hat, float alpha, float one_minus_beta_1,
          float one_minus_beta_2, float epsilon) {
  Operands ops("adam_update", var, grad);
  ops.check_var_grad_disjoint();
  float* mp = ops.slot(m, "m");
  float* vp = ops.slot(v, "v");
  float* vh = ops.optional_slot(velocity_hat, "velocity_hat");
  optim::AdamParams p{alpha, one_minus_beta_1, one_minus_beta_2, epsilon};
  py::gil_scoped_release release;
  optim::adam_update(ops.var(), ops.grad(), mp, vp, vh, ops.size(), p);
}

void rmsprop(const py::object& var, const py::object& grad, const py::object& velocity,
             const py::object& momentum, const py::object& average_grad, float learning_rate,
             float rho, float one_minus_rho, float mu, float epsilon) {
  Operands ops("rmsprop_update", var, grad);
  ops.check_var_grad_disjoint();
  float* vel = ops.slot(velocity, "velocity");
  float* mom = ops.optional_slot(momentum, "momentum");
  float* avg = ops.optional_slot(average_grad, "average_grad");
  optim::RmspropParams p{learning_rate, rho, one_minus_rho, mu, epsilon};
  py::gil_scoped_release release;
  optim::rmsprop_update(ops.var(), ops.grad(), vel, mom, avg, ops.size(), p);
}

void adadelta(const py::object& var, const py::object& grad, const py::object& accumulated_grad,
              const py::object& accumulated_delta_var, float learning_rate, float rho,
              float one_minus_rho, float epsilon) {
  Operands ops("adadelta_update", var, grad);
  ops.check_var_grad_disjoint();
  float* ag = ops.slot(accumulated_grad, "accumulated_grad");
  float* ad = ops.slot(accumulated_delta_var, "accumulated_delta_var");
  optim::AdadeltaParams p{learning_rate, rho, one_minus_rho, epsilon};
  py::gil_scoped_release release;
  optim::adadelta_update(ops.var(), ops.grad(), ag, ad, ops.size(), p);
}

void adagrad(const py::object& var, const py::object& grad, const py::object& accumulator,
             float learning_rate, float epsilon) {
  Operands ops("adagrad_update", var, grad);
  ops.check_var_grad_disjoint();
  float* acc = ops.slot(accumulator, "accumulator");
  optim::AdagradParams p{learning_rate, epsilon};
  py::gil_scoped_release release;
  optim::adagrad_update(ops.var(), ops.grad(), acc, ops.size(), p);
}

void adamax(const py::object& var, const py::object& grad, const py::object& m, const py::object& u,
            float learning_rate, float one_minus_beta_1, float beta_2, float one_minus_beta_1_power,
            float epsilon) {
  Operands ops("adamax_update", var, grad);
  ops.check_var_grad_disjoint();
  float* mp = ops.slot(m, "m");
  float* up = ops.slot(u, "u");
  optim::AdamaxParams p{learning_rate, one_minus_beta_1, beta_2, one_minus_beta_1_power, epsilon};
  py::gil_scoped_release release;
  optim::adamax_update(ops.var(), ops.grad(), mp, up, ops.size(), p);
}

void nadam(const py::object& var, const py::object& grad, const py::object& m, const py::object& v,
           float learning_rate, float one_minus_beta_1, float one_minus_beta_2, float u_next,
           float one_minus_u_product_next, float one_minus_u, float one_minus_u_product,
           float one_minus_beta_2_power, float epsilon) {
  Operands ops("nadam_update", var, grad);
  ops.check_var_grad_disjoint();
  float* mp = ops.slot(m, "m");
  float* vp = ops.slot(v, "v");
  optim::NadamParams p{
      learning_rate, one_minus_beta_1,    one_minus_beta_2,       u_next, one_minus_u_product_next,
      one_minus_u,   one_minus_u_product, one_minus_beta_2_power, epsilon};
  py::gil_scoped_release release;
  optim::nadam_update(ops.var(), ops.grad(), mp, vp, ops.size(), p);
}

void lion(const py::object& var, const py::object& grad, const py::object& m, float learning_rate,
          float beta_1, float one_minus_beta_1, float beta_2, float one_minus_beta_2) {
  Operands ops("lion_update", var, grad);
  ops.check_var_grad_disjoint();
  float* mp = ops.slot(m, "m");
  optim::LionParams p{learning_rate, beta_1, one_minus_beta_1, beta_2, one_minus_beta_2};
  py::gil_scoped_release release;
  optim::lion_update(ops.var(), ops.grad(), mp, ops.size(), p);
}

void ftrl(const py::object& var, const py::object& grad, const py::object& accumulator,
          const py::object& linear, float learning_rate, float power, float two_l2_shrinkage,
          float l1, float two_l2) {
  Operands ops("ftrl_update", var, grad);
  ops.check_var_grad_disjoint();
  float* acc = ops.slot(accumulator, "accumulator");
  float* lin = ops.slot(linear, "linear");
  optim::FtrlParams p{learning_rate, power, two_l2_shrinkage, l1, two_l2};
  py::gil_scoped_release release;
  optim::ftrl_update(ops.var(), ops.grad(), acc, lin, ops.size(), p);
}

void lamb(const py::object& var, const py::object& grad, const py::object& m, const py::object& v,
          float learning_rate, float one_minus_beta_1, float one_minus_beta_2,
          float one_minus_beta_1_power, float one_minus_beta_2_power, float epsilon) {
  Operands ops("lamb_update", var, grad);
  ops.check_var_grad_disjoint();
  float* mp = ops.slot(m, "m");
  float* vp = ops.slot(v, "v");
  optim::LambParams p{learning_rate,          one_minus_beta_1,       one_minus_beta_2,
                      one_minus_beta_1_power, one_minus_beta_2_power, epsilon};
  py::gil_scoped_release release;
  optim::lamb_update(ops.var(), ops.grad(), mp, vp, ops.size(), p);
}

void adafactor(const py::object& var, const py::object& grad, const py::object& row_stats,
               const py::object& col_stats, const py::object& v, float rho, float epsilon_1,
               float epsilon_2, float beta_2_t, float one_minus_beta_2_t, float clip_threshold) {
  const char* fn = "adafactor_update";
  Operands ops(fn, var, grad);
  ops.check_var_grad_disjoint();
  const py::array& va = ops.var_array();
  const py::ssize_t nd = va.ndim();
  float* r = nullptr;
  float* c = nullptr;
  int64_t batch = 1, rows = 1, cols = static_cast<int64_t>(va.size());
  if (nd >= 2) {
    if (row_stats.is_none() || col_stats.is_none()) {
      throw py::value_error(std::string(fn) + ": `row_stats` and `col_stats` are required for " +
                            "`var` of rank >= 2, received shape " + shape_str(va));
    }
    std::vector<py::ssize_t> r_shape, c_shape;
    for (py::ssize_t i = 0; i + 1 < nd; ++i) r_shape.push_back(va.shape(i));
    for (py::ssize_t i = 0; i + 2 < nd; ++i) c_shape.push_back(va.shape(i));
    c_shape.push_back(va.shape(nd - 1));
    r = ops.shaped_slot(row_stats, "row_stats", r_shape);
    c = ops.shaped_slot(col_stats, "col_stats", c_shape);
    rows = static_cast<int64_t>(va.shape(nd - 2));
    cols = static_cast<int64_t>(va.shape(nd - 1));
    batch = rows * cols == 0 ? 0 : static_cast<int64_t>(va.size()) / (rows * cols);
  } else if (!row_stats.is_none() || !col_stats.is_none()) {
    throw py::value_error(std::string(fn) + ": `row_stats` and `col_stats` must be None for " +
                          "`var` of rank < 2, received shape " + shape_str(va));
  }
  float* vp = ops.slot(v, "v");
  optim::AdafactorParams p{rho, epsilon_1, epsilon_2, beta_2_t, one_minus_beta_2_t, clip_threshold};
  py::gil_scoped_release release;
  optim::adafactor_update(ops.var(), ops.grad(), r, c, vp, batch, rows, cols, p);
}

void muon(const py::object& var, const py::object& grad, const py::object& m, float learning_rate,
          float momentum, float momentum_minus_1, bool nesterov, float a, float b, float c,
          int steps, float epsilon, const py::object& rms_rate) {
  const char* fn = "muon_update";
  Operands ops(fn, var, grad);
  ops.check_var_grad_disjoint();
  const py::array& va = ops.var_array();
  if (va.ndim() != 2) {
    throw py::value_error(std::string(fn) + ": `var` must be 2-D (Muon's orthogonalised step), " +
                          "received shape " + shape_str(va));
  }
  if (steps < 0) {
    throw py::value_error(std::string(fn) + ": `steps` must be >= 0, received " +
                          std::to_string(steps));
  }
  float* mp = ops.slot(m, "m");
  const int64_t rows = static_cast<int64_t>(va.shape(0)), cols = static_cast<int64_t>(va.shape(1));
  const bool adjust = !rms_rate.is_none();
  const float rate = adjust ? rms_rate.cast<float>() : 1.0f;
  const float dim_scale = std::sqrt(static_cast<float>(std::max(rows, cols)));
  optim::MuonParams p{learning_rate,
                      momentum,
                      momentum_minus_1,
                      nesterov,
                      optim::NewtonSchulzParams{a, b, c, steps, epsilon},
                      adjust,
                      dim_scale,
                      rate};
  py::gil_scoped_release release;
  optim::muon_update(ops.var(), ops.grad(), mp, rows, cols, p);
}

py::array_t<float> newton_schulz(const py::object& g, float a, float b, float c, int steps,
                                 float epsilon) {
  const char* fn = "newton_schulz";
  if (!py::isinstance<py::array>(g)) {
    throw py::type_error(std::string(fn) +
                         ": `g` must be a float32 numpy array, received an object of type " +
                         type_name(g));
  }
  py::array ga = g.cast<py::array>();
  require_float32(ga, fn, "g");
  if (ga.ndim() != 2) {
    throw py::value_error(std::string(fn) + ": `g` must be 2-D, received shape " + shape_str(ga));
  }
  if (!(ga.flags() & py::array::c_style)) {
    throw py::value_error(std::string(fn) + ": `g` must be C-contiguous");
  }
  if (steps < 0) {
    throw py::value_error(std::string(fn) + ": `steps` must be >= 0, received " +
                          std::to_string(steps));
  }
  const int64_t rows = static_cast<int64_t>(ga.shape(0)), cols = static_cast<int64_t>(ga.shape(1));
  py::array_t<float> out({ga.shape(0), ga.shape(1)});
  const float* src = static_cast<const float*>(ga.data());
  float* dst = out.mutable_data();
  optim::NewtonSchulzParams p{a, b, c, steps, epsilon};
  py::gil_scoped_release release;
  optim::newton_schulz(src, dst, rows, cols, p);
  return out;
}

void schedule_free_adamw(const py::object& var, const py::object& grad, const py::object& z,
                         const py::object& v, float learning_rate, float one_minus_beta_2,
                         float bias_correction_2, float epsilon, float beta_1,
                         float one_minus_beta_1, float weight, float one_minus_weight,
                         bool x_from_updated_z) {
  Operands ops("schedule_free_adamw_update", var, grad);
  ops.check_var_grad_disjoint();
  float* zp = ops.slot(z, "z");
  float* vp = ops.slot(v, "v");
  optim::ScheduleFreeAdamWParams p{learning_rate, one_minus_beta_2, bias_correction_2,
                                   epsilon,       beta_1,           one_minus_beta_1,
                                   weight,        one_minus_weight, x_from_updated_z};
  py::gil_scoped_release release;
  optim::schedule_free_adamw_update(ops.var(), ops.grad(), zp, vp, ops.size(), p);
}

// The writable float32 C-contiguous data of an in-place update's `var` (errors name `fn`).
py::array writable_var(const py::object& var, const char* fn) {
  if (!py::isinstance<py::array>(var)) {
    throw py::type_error(std::string(fn) +
                         ": `var` must be a float32 numpy array, received an object of type " +
                         type_name(var));
  }
  py::array a = var.cast<py::array>();
  require_float32(a, fn, "var");
  if (!(a.flags() & py::array::c_style)) {
    throw py::value_error(std::string(fn) + ": `var` of shape " + shape_str(a) +
                          " must be C-contiguous");
  }
  if (!a.writeable()) throw py::value_error(std::string(fn) + ": `var` is read-only");
  return a;
}

void scale(const py::object& var, float factor) {
  py::array a = writable_var(var, "scale_weights");
  float* data = static_cast<float*>(a.mutable_data());
  const int64_t n = static_cast<int64_t>(a.size());
  py::gil_scoped_release release;
  optim::scale_weights(data, n, factor);
}

void decay(const py::object& var, float weight_decay, float learning_rate) {
  py::array a = writable_var(var, "decay_weights");
  float* data = static_cast<float*>(a.mutable_data());
  const int64_t n = static_cast<int64_t>(a.size());
  py::gil_scoped_release release;
  optim::decay_weights(data, n, weight_decay, learning_rate);
}

double sum_squares(const py::object& x) {
  const char* fn = "sum_squares";
  if (!py::isinstance<py::array>(x)) {
    throw py::type_error(std::string(fn) +
                         ": `x` must be a float32 numpy array, received an object of type " +
                         type_name(x));
  }
  py::array a = x.cast<py::array>();
  require_float32(a, fn, "x");
  if (!(a.flags() & py::array::c_style)) {
    throw py::value_error(std::string(fn) + ": `x` of shape " + shape_str(a) +
                          " must be C-contiguous");
  }
  const float* data = static_cast<const float*>(a.data());
  const int64_t n = static_cast<int64_t>(a.size());
  py::gil_scoped_release release;
  return optim::sum_squares(data, n);
}

// The same update over several variables in one call (the training loop's step): the lists
// hold one array per variable, checked as the single-variable calls check them; all checks
// run before any variable is touched.
py::list as_list(const py::object& obj, const char* fn, const char* arg) {
  if (!py::isinstance<py::list>(obj)) {
    throw py::type_error(std::string(fn) + ": `" + arg + "` must be a list of arrays, received " +
                         "an object of type " + type_name(obj));
  }
  return obj.cast<py::list>();
}

class ManyOperands {
 public:
  ManyOperands(const char* fn, const py::object& vars, const py::object& grads) : fn_(fn) {
    py::list vs = as_list(vars, fn, "vars"), gs = as_list(grads, fn, "grads");
    check_length(gs, "grads", vs.size());
    ops_.reserve(vs.size());
    for (size_t i = 0; i < vs.size(); ++i) {
      ops_.emplace_back(fn, py::reinterpret_borrow<py::object>(vs[i]),
                        py::reinterpret_borrow<py::object>(gs[i]));
      ops_.back().check_var_grad_disjoint();
    }
  }

  size_t size() const { return ops_.size(); }
  Operands& operator[](size_t i) { return ops_[i]; }

  // One slot array per variable from a list; None (when allowed) gives null pointers.
  std::vector<float*> slots(const py::object& obj, const char* arg, bool may_be_none) {
    std::vector<float*> out(ops_.size(), nullptr);
    if (may_be_none && obj.is_none()) return out;
    py::list list = as_list(obj, fn_, arg);
    check_length(list, arg, ops_.size());
    for (size_t i = 0; i < ops_.size(); ++i) {
      out[i] = ops_[i].slot(py::reinterpret_borrow<py::object>(list[i]), arg);
    }
    return out;
  }

 private:
  void check_length(const py::list& list, const char* arg, size_t n) const {
    if (list.size() != n) {
      throw py::value_error(std::string(fn_) + ": `" + arg + "` has " +
                            std::to_string(list.size()) + " entries for " + std::to_string(n) +
                            " variables");
    }
  }

  const char* fn_;
  std::vector<Operands> ops_;  // hold the arrays until the update is done
};

void sgd_many(const py::object& vars, const py::object& grads, const py::object& moms_obj,
              float learning_rate, float mu, bool nesterov) {
  ManyOperands ops("sgd_update_many", vars, grads);
  std::vector<float*> moms = ops.slots(moms_obj, "momentums", /*may_be_none=*/true);
  optim::SgdParams p{learning_rate, mu, nesterov};
  py::gil_scoped_release release;
  for (size_t i = 0; i < ops.size(); ++i) {
    optim::sgd_update(ops[i].var(), ops[i].grad(), moms[i], ops[i].size(), p);
  }
}

void adam_many(const py::object& vars, const py::object& grads, const py::object& ms_obj,
               const py::object& vs_obj, const py::object& vhats_obj, float alpha,
               float one_minus_beta_1, float one_minus_beta_2, float epsilon) {
  ManyOperands ops("adam_update_many", vars, grads);
  std::vector<float*> ms = ops.slots(ms_obj, "m", false);
  std::vector<float*> vs = ops.slots(vs_obj, "v", false);
  std::vector<float*> vhats = ops.slots(vhats_obj, "velocity_hat", /*may_be_none=*/true);
  optim::AdamParams p{alpha, one_minus_beta_1, one_minus_beta_2, epsilon};
  py::gil_scoped_release release;
  for (size_t i = 0; i < ops.size(); ++i) {
    optim::adam_update(ops[i].var(), ops[i].grad(), ms[i], vs[i], vhats[i], ops[i].size(), p);
  }
}

void register_optim(py::module_& m) {
  m.def("sgd_update_many", &sgd_many, py::arg("vars"), py::arg("grads"), py::arg("momentums"),
        py::arg("learning_rate"), py::arg("mu"), py::arg("nesterov"),
        "sgd_update over lists of variables/gradients/momentums (momentums may be None).");
  m.def("adam_update_many", &adam_many, py::arg("vars"), py::arg("grads"), py::arg("m"),
        py::arg("v"), py::arg("velocity_hat"), py::arg("alpha"), py::arg("one_minus_beta_1"),
        py::arg("one_minus_beta_2"), py::arg("epsilon"),
        "adam_update over lists of variables and their slots (velocity_hat may be None).");
  // All arguments are positional-or-keyword; the Python optimizers call positionally.
  m.def("sgd_update", &sgd, py::arg("var"), py::arg("grad"), py::arg("momentum"),
        py::arg("learning_rate"), py::arg("mu"), py::arg("nesterov"),
        "SGD step in place. momentum=None: var -= grad*lr. Otherwise m = m*mu - grad*lr and "
        "var += m (or var += m*mu - grad*lr with nesterov).");
  m.def("adam_update", &adam, py::arg("var"), py::arg("grad"), py::arg("m"), py::arg("v"),
        py::arg("velocity_hat"), py::arg("alpha"), py::arg("one_minus_beta_1"),
        py::arg("one_minus_beta_2"), py::arg("epsilon"),
        "Adam step in place; alpha = lr*sqrt(1-beta_2^t)/(1-beta_1^t). velocity_hat (or None) "
        "enables AMSGrad.");
  m.def("rmsprop_update", &rmsprop, py::arg("var"), py::arg("grad"), py::arg("velocity"),
        py::arg("momentum"), py::arg("average_grad"), py::arg("learning_rate"), py::arg("rho"),
        py::arg("one_minus_rho"), py::arg("mu"), py::arg("epsilon"),
        "RMSprop step in place. momentum and average_grad may be None (no momentum / not "
        "centered).");
  m.def("adadelta_update", &adadelta, py::arg("var"), py::arg("grad"), py::arg("accumulated_grad"),
        py::arg("accumulated_delta_var"), py::arg("learning_rate"), py::arg("rho"),
        py::arg("one_minus_rho"), py::arg("epsilon"), "Adadelta step in place.");
  m.def("adagrad_update", &adagrad, py::arg("var"), py::arg("grad"), py::arg("accumulator"),
        py::arg("learning_rate"), py::arg("epsilon"), "Adagrad step in place.");
  m.def("adamax_update", &adamax, py::arg("var"), py::arg("grad"), py::arg("m"), py::arg("u"),
        py::arg("learning_rate"), py::arg("one_minus_beta_1"), py::arg("beta_2"),
        py::arg("one_minus_beta_1_power"), py::arg("epsilon"), "Adamax step in place.");
  m.def("nadam_update", &nadam, py::arg("var"), py::arg("grad"), py::arg("m"), py::arg("v"),
        py::arg("learning_rate"), py::arg("one_minus_beta_1"), py::arg("one_minus_beta_2"),
        py::arg("u_next"), py::arg("one_minus_u_product_next"), py::arg("one_minus_u"),
        py::arg("one_minus_u_product"), py::arg("one_minus_beta_2_power"), py::arg("epsilon"),
        "Nadam step in place (the step-dependent scalars are computed by the caller).");
  m.def("lion_update", &lion, py::arg("var"), py::arg("grad"), py::arg("m"),
        py::arg("learning_rate"), py::arg("beta_1"), py::arg("one_minus_beta_1"), py::arg("beta_2"),
        py::arg("one_minus_beta_2"),
        "Lion step in place: var -= sign(m*beta_1 + grad*(1-beta_1))*lr, then "
        "m = m*beta_2 + grad*(1-beta_2).");
  m.def("ftrl_update", &ftrl, py::arg("var"), py::arg("grad"), py::arg("accumulator"),
        py::arg("linear"), py::arg("learning_rate"), py::arg("power"), py::arg("two_l2_shrinkage"),
        py::arg("l1"), py::arg("two_l2"),
        "FTRL step in place; power = -learning_rate_power, two_l2 = 2*(l2 + beta/(2*lr)).");
  m.def("lamb_update", &lamb, py::arg("var"), py::arg("grad"), py::arg("m"), py::arg("v"),
        py::arg("learning_rate"), py::arg("one_minus_beta_1"), py::arg("one_minus_beta_2"),
        py::arg("one_minus_beta_1_power"), py::arg("one_minus_beta_2_power"), py::arg("epsilon"),
        "Lamb step in place, including the variable's trust ratio.");
  m.def("adafactor_update", &adafactor, py::arg("var"), py::arg("grad"), py::arg("row_stats"),
        py::arg("col_stats"), py::arg("v"), py::arg("rho"), py::arg("epsilon_1"),
        py::arg("epsilon_2"), py::arg("beta_2_t"), py::arg("one_minus_beta_2_t"),
        py::arg("clip_threshold"),
        "Adafactor step in place. For var of rank >= 2, row_stats has shape var.shape[:-1] and "
        "col_stats var.shape[:-2] + var.shape[-1:]; for lower ranks both are None.");
  m.def("muon_update", &muon, py::arg("var"), py::arg("grad"), py::arg("m"),
        py::arg("learning_rate"), py::arg("momentum"), py::arg("momentum_minus_1"),
        py::arg("nesterov"), py::arg("a"), py::arg("b"), py::arg("c"), py::arg("steps"),
        py::arg("epsilon"), py::arg("rms_rate"),
        "Muon step in place for a 2-D var: momentum, Newton-Schulz orthogonalisation on the "
        "GEMM, then var -= lr*o (scaled by sqrt(max(rows, cols))*rms_rate unless rms_rate is "
        "None).");
  m.def("newton_schulz", &newton_schulz, py::arg("g"), py::arg("a"), py::arg("b"), py::arg("c"),
        py::arg("steps"), py::arg("epsilon"),
        "Muon's quintic Newton-Schulz orthogonalisation of a 2-D float32 array (a new array).");
  m.def("schedule_free_adamw_update", &schedule_free_adamw, py::arg("var"), py::arg("grad"),
        py::arg("z"), py::arg("v"), py::arg("learning_rate"), py::arg("one_minus_beta_2"),
        py::arg("bias_correction_2"), py::arg("epsilon"), py::arg("beta_1"),
        py::arg("one_minus_beta_1"), py::arg("weight"), py::arg("one_minus_weight"),
        py::arg("x_from_updated_z") = true,
        "Schedule-Free AdamW step in place (z: the gradient sequence, Keras's momentum slot). "
        "x_from_updated_z: recover x from z after this step's update (Keras's torch `apply`) "
        "rather than before it (its `stateless_apply`).");
  m.def("scale_weights", &scale, py::arg("var"), py::arg("factor"),
        "var *= factor in place (the torch backend's decoupled weight decay).");
  m.def("decay_weights", &decay, py::arg("var"), py::arg("weight_decay"), py::arg("learning_rate"),
        "Decoupled weight decay in place: var -= var*wd*lr.");
  m.def("sum_squares", &sum_squares, py::arg("x"),
        "Sum of squares of a float32 array, accumulated in double.");
}

Registrar registrar("optim", &register_optim);

}  // namespace
}  // namespace fastkeras::bindings
