// The Python module geo3d._C. It exposes no Python functions: importing it loads the
// shared library, whose static TORCH_LIBRARY_IMPL blocks register the kernels with the
// dispatcher under the schemas defined in geo3d/ops/_library.py (never pybind: ops bound
// that way are invisible to torch.compile and torch.export).
#include <Python.h>

extern "C" PyObject* PyInit__C(void) {
  static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module);
}
