/* bot.dedup._cdedup: two hot pure functions of story placement in C.

  cosine(a, b)       the cosine of two sparse unit vectors ({term: float}): the products of the
                     shared terms summed exactly rounded, by the algorithm of CPython's
                     math.fsum (Shewchuk's partials, then the half-even correction across
                     partials), so it returns the very bits of bot.dedup.features.cosine's
                     math.fsum whatever order the terms come in. None when either is not a
                     dict, a value is not a finite float or the partials would not fit: the
                     caller takes its Python path then.
  minhash(hashes)    the one-permutation MinHash of a set of 64-bit shingle hashes (ints in
                     [0, 2**64)), densified by rotation: what bot.dedup.fingerprints.signature
                     computes after its length check (bin = hash & 63, the bin's smallest
                     hash gives (hash >> 6) & 0xFFFFFFFF; an empty bin takes its nearest
                     filled bin to the right, mixed with the distance). None when a hash is
                     not such an int.

Neither calls back into Python code; both hold the GIL throughout. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

#define PARTIALS 64
#define SIG 64
#define BIN_BITS 6

/* Exactly rounded sum of the products of the terms `small` and `big` share (math.fsum). */
static PyObject *
cosine(PyObject *self, PyObject *args)
{
    PyObject *a, *b;
    if (!PyArg_ParseTuple(args, "OO:cosine", &a, &b))
        return NULL;
    if (!PyDict_Check(a) || !PyDict_Check(b)) /* another Mapping: the Python path */
        Py_RETURN_NONE;
    PyObject *small = PyDict_GET_SIZE(a) <= PyDict_GET_SIZE(b) ? a : b;
    PyObject *big = small == a ? b : a;
    double p[PARTIALS], x, y, t, hi, yr, lo = 0.0;
    Py_ssize_t n = 0, i, j, pos = 0;
    PyObject *key, *value, *other;
    while (PyDict_Next(small, &pos, &key, &value)) {
        other = PyDict_GetItemWithError(big, key);
        if (other == NULL) {
            if (PyErr_Occurred())
                return NULL;
            continue;
        }
        if (!PyFloat_CheckExact(value) || !PyFloat_CheckExact(other))
            Py_RETURN_NONE;
        x = PyFloat_AS_DOUBLE(value) * PyFloat_AS_DOUBLE(other);
        if (!isfinite(x))
            Py_RETURN_NONE;
        for (i = j = 0; j < n; j++) { /* for y in partials */
            y = p[j];
            if (fabs(x) < fabs(y)) {
                t = x;
                x = y;
                y = t;
            }
            hi = x + y;
            yr = hi - x;
            lo = y - yr;
            if (lo != 0.0)
                p[i++] = lo;
            x = hi;
        }
        n = i;
        if (x != 0.0) {
            if (!isfinite(x) || n >= PARTIALS)
                Py_RETURN_NONE;
            p[n++] = x;
        }
    }
    hi = 0.0;
    if (n > 0) {
        hi = p[--n];
        /* sum_exact(ps, hi) from the top, stop when the sum becomes inexact */
        while (n > 0) {
            x = hi;
            y = p[--n];
            hi = x + y;
            yr = hi - x;
            lo = y - yr;
            if (lo != 0.0)
                break;
        }
        /* half-even rounding across several partials */
        if (n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0))) {
            y = lo * 2.0;
            x = hi + y;
            yr = x - hi;
            if (y == yr)
                hi = x;
        }
    }
    return PyFloat_FromDouble(hi);
}

static PyObject *
minhash(PyObject *self, PyObject *args)
{
    PyObject *hashes;
    if (!PyArg_ParseTuple(args, "O!:minhash", &PySet_Type, &hashes))
        return NULL;
    uint64_t smallest[SIG];
    int filled[SIG] = {0};
    PyObject *item, *iter = PyObject_GetIter(hashes);
    if (iter == NULL)
        return NULL;
    while ((item = PyIter_Next(iter)) != NULL) {
        unsigned long long h = PyLong_CheckExact(item) ? PyLong_AsUnsignedLongLong(item) : 0;
        int bad = !PyLong_CheckExact(item) || (h == (unsigned long long)-1 && PyErr_Occurred());
        Py_DECREF(item);
        if (bad) {
            PyErr_Clear();
            Py_DECREF(iter);
            Py_RETURN_NONE;
        }
        int bin = (int)(h & (SIG - 1));
        if (!filled[bin] || h < smallest[bin]) {
            smallest[bin] = h;
            filled[bin] = 1;
        }
    }
    Py_DECREF(iter);
    if (PyErr_Occurred())
        return NULL;
    PyObject *out = PyTuple_New(SIG);
    if (out == NULL)
        return NULL;
    /* right to left, twice round: bin k takes the nearest filled bin at k + gap */
    uint64_t carry = 0, value;
    uint64_t gap = 0;
    for (int k = 2 * SIG - 1; k >= 0; k--) {
        int bin = k % SIG;
        if (filled[bin]) {
            carry = (smallest[bin] >> BIN_BITS) & 0xFFFFFFFFu;
            gap = 0;
        }
        else
            gap++;
        if (k < SIG) {
            value = gap ? carry ^ ((gap * 0x9E3779B1u) & 0xFFFFFFFFu) : carry;
            PyObject *number = PyLong_FromUnsignedLongLong(value);
            if (number == NULL) {
                Py_DECREF(out);
                return NULL;
            }
            PyTuple_SET_ITEM(out, k, number);
        }
    }
    return out;
}

static PyMethodDef methods[] = {
    {"cosine", cosine, METH_VARARGS,
     "cosine(a, b): the exactly rounded sum of a[t] * b[t] over shared terms, or None."},
    {"minhash", minhash, METH_VARARGS,
     "minhash(hashes): the densified one-permutation MinHash of 64-bit hashes, or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cdedup",
    "Hot pure functions of story placement (bot.dedup.features, bot.dedup.fingerprints).", -1,
    methods,
};

PyMODINIT_FUNC
PyInit__cdedup(void)
{
    return PyModule_Create(&module);
}
