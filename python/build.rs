//! Sets the cfgs of the Python being built for (`Py_GIL_DISABLED` among
//! them), as pyo3 sets them for itself: a batch reads a list's items ahead
//! through borrowed pointers only where the GIL keeps the list still.

fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
