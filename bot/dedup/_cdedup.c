/* bot.dedup._cdedup: three hot pure functions of story placement in C.

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

  fits(vector, language, day, time, window, profiles, constants)
                     bot.dedup.scoring._fit's numbers (relative, score, cosine, time, late,
                     apart, factor, language or None) for each story profile of the list,
                     against an article's unit vector, language, stated event day and time:
                     the same operations in the same order (no contraction into fused
                     multiply-adds), so the same bits; the cosine is `cosine`'s. None when a
                     value is not of the types the index stores (then the Python path runs).
                     constants: TIME_WEIGHT, LATE_WEIGHT, EVENT_WEIGHT, SAME_DAY_HOURS,
                     CROSS_FACTOR, EVENT_SLACK_DAYS, YEAR_DAYS, ANY_LANGUAGE.

None calls back into Python code (`fits` reads the profiles' attributes and compares language
names, all of them str); all hold the GIL throughout. */

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

#define PARTIALS 64
#define SIG 64
#define BIN_BITS 6
#define DAY_LIMIT (1LL << 60) /* event days beyond this: the Python path */

/* The exactly rounded sum of the products of the terms dicts `a` and `b` share (math.fsum)
   into *out: 1, or 0 when the caller's Python path must run (not dicts, a value not a finite
   float, too many partials), or -1 with an exception set. */
static int
dot(PyObject *a, PyObject *b, double *out)
{
    if (!PyDict_Check(a) || !PyDict_Check(b)) /* another Mapping: the Python path */
        return 0;
    PyObject *small = PyDict_GET_SIZE(a) <= PyDict_GET_SIZE(b) ? a : b;
    PyObject *big = small == a ? b : a;
    double p[PARTIALS], x, y, t, hi, yr, lo = 0.0;
    Py_ssize_t n = 0, i, j, pos = 0;
    PyObject *key, *value, *other;
    while (PyDict_Next(small, &pos, &key, &value)) {
        other = PyDict_GetItemWithError(big, key);
        if (other == NULL) {
            if (PyErr_Occurred())
                return -1;
            continue;
        }
        if (!PyFloat_CheckExact(value) || !PyFloat_CheckExact(other))
            return 0;
        x = PyFloat_AS_DOUBLE(value) * PyFloat_AS_DOUBLE(other);
        if (!isfinite(x))
            return 0;
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
                return 0;
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
    *out = hi;
    return 1;
}

static PyObject *
cosine(PyObject *self, PyObject *args)
{
    PyObject *a, *b;
    double sum;
    if (!PyArg_ParseTuple(args, "OO:cosine", &a, &b))
        return NULL;
    int done = dot(a, b, &sum);
    if (done < 0)
        return NULL;
    if (done == 0)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(sum);
}

/* Attribute names of bot.dedup.scoring.Profile, interned at import. */
static PyObject *s_centroids, *s_first, *s_last, *s_days;

/* *out from a float or None (*none says which): 0 when `value` is neither (Python path). */
static int
float_or_none(PyObject *value, double *out, int *none)
{
    *none = value == Py_None;
    if (*none)
        return 1;
    if (!PyFloat_CheckExact(value))
        return 0;
    *out = PyFloat_AS_DOUBLE(value);
    return 1;
}

/* bot.dedup.eventday.days_apart(day, days) into *out: 1, 0 (Python path), -1 (error). */
static int
days_apart(PyObject *day, PyObject *days, long long slack, long long year, long long *out)
{
    *out = 0;
    if (day == Py_None)
        return 1;
    if (!PyTuple_CheckExact(days) || !PyLong_CheckExact(day))
        return 0;
    Py_ssize_t n = PyTuple_GET_SIZE(days);
    if (n == 0)
        return 1;
    int overflow;
    long long d = PyLong_AsLongLongAndOverflow(day, &overflow), nearest = 0;
    if (d == -1 && PyErr_Occurred())
        return -1;
    if (overflow || d > DAY_LIMIT || d < -DAY_LIMIT || year <= 0)
        return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(days, i);
        if (!PyLong_CheckExact(item))
            return 0;
        long long other = PyLong_AsLongLongAndOverflow(item, &overflow);
        if (other == -1 && PyErr_Occurred())
            return -1;
        if (overflow || other > DAY_LIMIT || other < -DAY_LIMIT)
            return 0;
        long long diff = d - other;
        long long off = (diff < 0 ? -diff : diff) % year;
        long long circular = off <= year - off ? off : year - off;
        if (i == 0 || circular < nearest)
            nearest = circular;
    }
    *out = nearest > slack ? nearest : 0;
    return 1;
}

/* One candidate's numbers (bot.dedup.scoring._fit), a new tuple; Py_None (a new reference)
   when the Python path must run, NULL on error. */
static PyObject *
fit_one(PyObject *vector, PyObject *language, PyObject *day, int t_none, double t,
        double window, PyObject *profile, const double *w, long long slack, long long year,
        PyObject *any)
{
    PyObject *first = NULL, *last = NULL, *days = NULL, *centroids = NULL, *result = NULL;
    double f = 0.0, l = 0.0;
    int f_none, l_none, done;
    long long apart;
    if ((first = PyObject_GetAttr(profile, s_first)) == NULL
        || (last = PyObject_GetAttr(profile, s_last)) == NULL
        || (days = PyObject_GetAttr(profile, s_days)) == NULL
        || (centroids = PyObject_GetAttr(profile, s_centroids)) == NULL)
        goto done;
    if (!float_or_none(first, &f, &f_none) || !float_or_none(last, &l, &l_none)
        || !PyDict_CheckExact(centroids))
        goto python;
    /* the same operations in the same order as _fit: the same bits */
    double seconds = 0.0, a, b;
    if (!t_none && !f_none && !l_none) { /* max(0.0, first - time, time - last) */
        a = f - t;
        b = t - l;
        if (a > seconds)
            seconds = a;
        if (b > seconds)
            seconds = b;
    }
    double gap = seconds / window, late = 0.0, late0 = seconds / 3600.0 - w[3];
    if (1.0 < gap)
        gap = 1.0;
    if (late0 > late)
        late = late0;
    late = late / 24.0;
    done = days_apart(day, days, slack, year, &apart);
    if (done < 0)
        goto done;
    if (done == 0)
        goto python;
    double event = w[2] * (double)(apart > 0);
    double own = w[0] * gap + w[1] * 0.0 + event;
    double other = w[0] * gap + w[1] * late + event;
    double best_rel = 0.0 - other, best_score = 0.0 - other, best_near = 0.0;
    double best_late = late, best_factor = 1.0, near, score, rel;
    PyObject *best_lang = Py_None, *lang, *centroid;
    Py_ssize_t pos = 0;
    int have = 0, same;
    while (PyDict_Next(centroids, &pos, &lang, &centroid)) {
        same = PyObject_RichCompareBool(lang, language, Py_EQ);
        if (same == 0)
            same = PyObject_RichCompareBool(lang, any, Py_EQ);
        if (same < 0)
            goto done;
        done = dot(vector, centroid, &near);
        if (done < 0)
            goto done;
        if (done == 0)
            goto python;
        score = near - (same ? own : other);
        rel = same ? score : score / w[4];
        if (!have || rel > best_rel) {
            have = 1;
            best_rel = rel;
            best_score = score;
            best_near = near;
            best_late = same ? 0.0 : late;
            best_factor = same ? 1.0 : w[4];
            best_lang = same ? Py_None : lang;
        }
    }
    result = Py_BuildValue("(dddddLdO)", best_rel, best_score, best_near, gap, best_late,
                           apart, best_factor, best_lang);
    goto done;
python:
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(first);
    Py_XDECREF(last);
    Py_XDECREF(days);
    Py_XDECREF(centroids);
    return result;
}

static PyObject *
fits(PyObject *self, PyObject *args)
{
    PyObject *vector, *language, *day, *time_obj, *window_obj, *profiles, *any;
    double w[5], t = 0.0, window;
    long long slack, year;
    int t_none;
    if (!PyArg_ParseTuple(args, "OOOOOO(dddddLLO):fits", &vector, &language, &day, &time_obj,
                          &window_obj, &profiles, &w[0], &w[1], &w[2], &w[3], &w[4], &slack,
                          &year, &any))
        return NULL;
    if (!PyList_CheckExact(profiles) || !float_or_none(time_obj, &t, &t_none))
        Py_RETURN_NONE;
    if (PyFloat_CheckExact(window_obj))
        window = PyFloat_AS_DOUBLE(window_obj);
    else if (PyLong_CheckExact(window_obj)) { /* as float / int converts it */
        window = PyLong_AsDouble(window_obj);
        if (window == -1.0 && PyErr_Occurred())
            return NULL;
    }
    else
        Py_RETURN_NONE;
    if (window == 0.0) /* Python raises ZeroDivisionError */
        Py_RETURN_NONE;
    Py_ssize_t n = PyList_GET_SIZE(profiles);
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *one = fit_one(vector, language, day, t_none, t, window,
                                PyList_GET_ITEM(profiles, k), w, slack, year, any);
        if (one == NULL || one == Py_None) {
            Py_DECREF(out);
            return one;
        }
        PyList_SET_ITEM(out, k, one);
    }
    return out;
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
    {"fits", fits, METH_VARARGS,
     "fits(vector, language, day, time, window, profiles, constants): _fit's numbers for each "
     "profile, or None."},
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
    if ((s_centroids = PyUnicode_InternFromString("centroids")) == NULL
        || (s_first = PyUnicode_InternFromString("first")) == NULL
        || (s_last = PyUnicode_InternFromString("last")) == NULL
        || (s_days = PyUnicode_InternFromString("days")) == NULL)
        return NULL;
    return PyModule_Create(&module);
}
