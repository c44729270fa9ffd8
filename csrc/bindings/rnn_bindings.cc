// rnn_forward / rnn_backward: one call per recurrent layer per direction, over all timesteps.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "kernels/rnn/rnn.h"

namespace fastkeras::bindings {
namespace {

RnnCell parse_cell(const std::string& name, const char* fn) {
  if (name == "simple") return RnnCell::kSimple;
  if (name == "lstm") return RnnCell::kLstm;
  if (name == "gru") return RnnCell::kGru;
  if (name == "gru_reset_after") return RnnCell::kGruResetAfter;
  throw py::value_error(std::string(fn) + ": unknown cell '" + name +
                        "' (expected simple, lstm, gru or gru_reset_after)");
}

RnnActivation parse_activation(const std::string& name, const char* fn, const char* arg) {
  if (name == "tanh") return RnnActivation::kTanh;
  if (name == "sigmoid") return RnnActivation::kSigmoid;
  if (name == "relu") return RnnActivation::kRelu;
  if (name == "linear") return RnnActivation::kLinear;
  if (name == "hard_sigmoid") return RnnActivation::kHardSigmoid;
  throw py::value_error(std::string(fn) + ": `" + arg + "` '" + name +
                        "' is not supported by the recurrent kernel (tanh, sigmoid, relu, "
                        "linear, hard_sigmoid)");
}

// Checks every array of the forward pass and fills `a` with their pointers.
void fill_forward(RnnArgs& a, const char* fn, const std::string& cell, const std::string& act,
                  const std::string& rec_act, const py::object& x, const py::object& w,
                  const py::object& r, const py::object& b, const py::object& rb,
                  const py::object& h0, const py::object& c0, const py::object& mask,
                  const py::object& in_mask, const py::object& rec_mask, bool reverse,
                  bool zero_masked_outputs, const py::object& y, const py::object& h_last,
                  const py::object& c_last, const py::object& gates, const py::object& xh,
                  const py::object& state, bool workspace_writable) {
  a.cell = parse_cell(cell, fn);
  a.act = parse_activation(act, fn, "activation");
  a.rec_act = parse_activation(rec_act, fn, "recurrent_activation");
  FloatArray xa = float_array(x, 3, fn, "x", false);
  const int64_t B = xa.shape[0], T = xa.shape[1], I = xa.shape[2];
  FloatArray ra = float_array(r, 2, fn, "r", false);
  const int64_t U = ra.shape[0], G = rnn_gate_count(a.cell), GU = G * U;
  if (I <= 0 || U <= 0) {
    throw py::value_error(std::string(fn) +
                          ": input features and units must be positive, "
                          "received x of shape " +
                          shape_text(xa.shape) + " and r of shape " + shape_text(ra.shape));
  }
  require_shape(ra, {U, GU}, fn, "r");
  FloatArray wa = float_array(w, 2, fn, "w", false);
  require_shape(wa, {I, GU}, fn, "w");
  a.batch = B;
  a.steps = T;
  a.in = I;
  a.units = U;
  a.reverse = reverse;
  a.zero_masked_outputs = zero_masked_outputs;
  a.x = xa.data;
  a.w = wa.data;
  a.r = ra.data;
  a.b = optional_array(b, {GU}, fn, "b", false);
  a.rb = optional_array(rb, {GU}, fn, "rb", false);
  a.h0 = optional_array(h0, {B, U}, fn, "h0", false);
  a.c0 = optional_array(c0, {B, U}, fn, "c0", false);
  a.mask = optional_array(mask, {B, T}, fn, "mask", false);
  a.in_mask = optional_array(in_mask, {B, G * I}, fn, "in_mask", false);
  a.rec_mask = optional_array(rec_mask, {B, GU}, fn, "rec_mask", false);
  a.y = optional_array(y, {B, T, U}, fn, "y", true);
  a.h_last = optional_array(h_last, {B, U}, fn, "h_last", true);
  a.c_last = optional_array(c_last, {B, U}, fn, "c_last", true);
  a.gates = optional_array(gates, {B, T, GU}, fn, "gates", workspace_writable);
  a.xh = optional_array(xh, {B, T, I + U + 1}, fn, "xh", workspace_writable);
  a.state = optional_array(state, {B, T, U}, fn, "state", workspace_writable);
  if (!a.gates || !a.xh) {
    throw py::value_error(std::string(fn) + ": `gates` and `xh` are required arrays");
  }
  if (a.cell != RnnCell::kSimple && !a.state) {
    throw py::value_error(std::string(fn) + ": cell '" + cell + "' needs the `state` array");
  }
}

void rnn_forward_py(const std::string& cell, const std::string& act, const std::string& rec_act,
                    const py::object& x, const py::object& w, const py::object& r,
                    const py::object& b, const py::object& rb, const py::object& h0,
                    const py::object& c0, const py::object& mask, const py::object& in_mask,
                    const py::object& rec_mask, bool reverse, bool zero_masked_outputs,
                    const py::object& y, const py::object& h_last, const py::object& c_last,
                    const py::object& gates, const py::object& xh, const py::object& state,
                    const py::object& y_last) {
  RnnArgs a;
  fill_forward(a, "rnn_forward", cell, act, rec_act, x, w, r, b, rb, h0, c0, mask, in_mask,
               rec_mask, reverse, zero_masked_outputs, y, h_last, c_last, gates, xh, state, true);
  a.y_last = optional_array(y_last, {a.batch, a.units}, "rnn_forward", "y_last", true);
  if (!a.y && !a.y_last) {
    throw py::value_error("rnn_forward: `y` or `y_last` is required");
  }
  py::gil_scoped_release release;
  rnn_forward(a);
}

void rnn_backward_py(const std::string& cell, const std::string& act, const std::string& rec_act,
                     const py::object& x, const py::object& w, const py::object& r,
                     const py::object& b, const py::object& rb, const py::object& h0,
                     const py::object& c0, const py::object& mask, const py::object& in_mask,
                     const py::object& rec_mask, bool reverse, bool zero_masked_outputs,
                     const py::object& y, const py::object& gates, const py::object& xh,
                     const py::object& state, const py::object& dy, const py::object& dy_last,
                     const py::object& dh_last, const py::object& dc_last, const py::object& dx,
                     const py::object& dw, const py::object& dr, const py::object& db,
                     const py::object& drb, const py::object& dh0, const py::object& dc0,
                     const py::object& dgates, const py::object& dgates_rec) {
  const char* fn = "rnn_backward";
  RnnArgs a;
  fill_forward(a, fn, cell, act, rec_act, x, w, r, b, rb, h0, c0, mask, in_mask, rec_mask, reverse,
               zero_masked_outputs, y, py::none(), py::none(), gates, xh, state, false);
  const int64_t B = a.batch, T = a.steps, I = a.in, U = a.units;
  const int64_t GU = rnn_gate_count(a.cell) * U;
  a.dy = optional_array(dy, {B, T, U}, fn, "dy", false);
  a.dy_last = optional_array(dy_last, {B, U}, fn, "dy_last", false);
  a.dh_last = optional_array(dh_last, {B, U}, fn, "dh_last", false);
  a.dc_last = optional_array(dc_last, {B, U}, fn, "dc_last", false);
  a.dx = optional_array(dx, {B, T, I}, fn, "dx", true);
  a.dw = optional_array(dw, {I, GU}, fn, "dw", true);
  a.dr = optional_array(dr, {U, GU}, fn, "dr", true);
  a.db = optional_array(db, {GU}, fn, "db", true);
  a.drb = optional_array(drb, {GU}, fn, "drb", true);
  a.dh0 = optional_array(dh0, {B, U}, fn, "dh0", true);
  a.dc0 = optional_array(dc0, {B, U}, fn, "dc0", true);
  a.dgates = optional_array(dgates, {B, T, GU}, fn, "dgates", true);
  a.dgates_rec = optional_array(dgates_rec, {B, T, GU}, fn, "dgates_rec", true);
  if (!a.dgates) throw py::value_error("rnn_backward: the `dgates` array is required");
  if (a.cell == RnnCell::kGruResetAfter && !a.dgates_rec) {
    throw py::value_error("rnn_backward: cell 'gru_reset_after' needs the `dgates_rec` array");
  }
  py::gil_scoped_release release;
  rnn_backward(a);
}

void register_rnn(py::module_& m) {
  using py::arg;
  const py::none none;
  m.def("rnn_forward", &rnn_forward_py, arg("cell"), arg("activation"), arg("recurrent_activation"),
        arg("x"), arg("w"), arg("r"), arg("b") = none, arg("rb") = none, arg("h0") = none,
        arg("c0") = none, arg("mask") = none, arg("in_mask") = none, arg("rec_mask") = none,
        arg("reverse") = false, arg("zero_masked_outputs") = false, arg("y") = none,
        arg("h_last") = none, arg("c_last") = none, arg("gates") = none, arg("xh") = none,
        arg("state") = none, arg("y_last") = none,
        "A recurrent layer over all timesteps: fills y (outputs, processing order) or only "
        "y_last (the last output), h_last, c_last and the gates/xh/state workspace the "
        "backward pass reads (xh: (batch, steps, in + units + 1)).");
  m.def("rnn_backward", &rnn_backward_py, arg("cell"), arg("activation"),
        arg("recurrent_activation"), arg("x"), arg("w"), arg("r"), arg("b") = none,
        arg("rb") = none, arg("h0") = none, arg("c0") = none, arg("mask") = none,
        arg("in_mask") = none, arg("rec_mask") = none, arg("reverse") = false,
        arg("zero_masked_outputs") = false, arg("y") = none, arg("gates") = none, arg("xh") = none,
        arg("state") = none, arg("dy") = none, arg("dy_last") = none, arg("dh_last") = none,
        arg("dc_last") = none, arg("dx") = none, arg("dw") = none, arg("dr") = none,
        arg("db") = none, arg("drb") = none, arg("dh0") = none, arg("dc0") = none,
        arg("dgates") = none, arg("dgates_rec") = none,
        "Gradients of a recurrent layer over all timesteps from its forward workspace.");
}

Registrar registrar("rnn", &register_rnn);

}  // namespace
}  // namespace fastkeras::bindings
