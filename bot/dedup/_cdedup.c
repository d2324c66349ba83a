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

  shingle_minhash(units, minimum)
                     bot.dedup.fingerprints.signature from a text's units (code points or
                     word numbers): each 3-unit shingle hashed as CPython hashes the tuple
                     (tuplehash's xxHash mix of the ints, which are their own hashes), ()
                     when fewer than `minimum` distinct, else their `minhash`; no tuple or
                     set is made. None for a unit that is not a small int (the Python path).
  band_fields(sig, rows)
                     bot.dedup.fingerprints.band_fields: `b<band>:<hex>` for each band of
                     `rows` values of a signature, the hash that of the tuple (as above).
  fits(vector, language, day, time, window, profiles, constants)
                     bot.dedup.scoring._fit's numbers (relative, score, cosine, time, late,
                     apart, factor, language or None) for each story profile of the list,
                     against an article's unit vector, language, stated event day and time:
                     the same operations in the same order (no contraction into fused
                     multiply-adds), so the same bits; the cosine is `cosine`'s. None when a
                     value is not of the types the index stores (then the Python path runs).
                     constants: TIME_WEIGHT, LATE_WEIGHT, EVENT_WEIGHT, SAME_DAY_HOURS,
                     CROSS_FACTOR, EVENT_SLACK_DAYS, YEAR_DAYS, ANY_LANGUAGE.

  centroid_json(centroid, units)
                     the JSON text json.JSONEncoder(ensure_ascii=False) writes for
                     {term: round(weight * units)} (round half to even, as float.__round__),
                     what bot.dedup.scoring.Profile.to_json stores for each centroid; None
                     when a term needs escaping or a weight is not a float.

  merge(centroid, vector, count, most)
                     bot.dedup.features.merge: the unit centroid of a story of `count`
                     articles once `vector` joins (its `most` heaviest terms, ties in their
                     order), the same sums in the same order, so the same bits and the same
                     order of terms; None for another Mapping or a weight not a float.

  idf(terms, shares, doc_freq, top, prior)
                     bot.dedup.background.Background.idf after its `top`: {t: top -
                     log(prior * shares[t] + doc_freq.get(t, 0) + 1)} for each term of the dict
                     `terms`, the same operations in the same order (libm's log, as math.log
                     calls it), so the same bits. None when a term has no float share yet
                     (the Python path computes and keeps it) or a count is not an int.

  json_text(obj)     json.JSONEncoder(ensure_ascii=False).encode(obj), the very text (escapes
                     included), for None, bools, ints, finite floats (their repr), str, lists,
                     tuples and dicts with str keys nested up to 32 deep; None for anything
                     else or a NaN or infinite float (the Python path writes those).
  vectorize(raw, idf, most)
                     bot.dedup.features.vectorize: {term: weight * idf.get(term, 1.0)} in
                     `raw`'s order, then unit() as `merge` does it (the `most` heaviest, ties
                     in their order, the same sums, so the same bits and order of terms).
                     None for another Mapping, a weight not a float or a NaN product.
  ranked_terms(raw, idf)
                     bot.dedup.features.ranked_terms: the terms of `raw` ordered as Python
                     sorts the tuples (-weight * idf.get(term, 1.0), term) (ties by code point
                     order of the terms, -0.0 and 0.0 equal), split into the neutral terms and
                     those whose first character is Chinese (U+3400-U+9FFF, U+F900-U+FAFF).
                     None for another Mapping, a weight not a float or a NaN key.
  df_lookup(raw, counts, total, refresh)
                     bot.dedup.caches.DfCache.lookup for the days it holds: the terms of `raw`
                     to fetch (not in `counts`, or counted when the window held more than
                     `refresh` of max(that count, 20) articles more or fewer than `total`)
                     and the known counts of the others, both in `raw`'s order. None when an
                     entry is not a (count, total) pair of ints or a total is beyond 2**52.

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

/* round(x) of a Python float (round half to even), as float.__round__ computes it. */
static double
round_half_even(double x)
{
    double rounded = round(x);
    if (fabs(x - rounded) == 0.5)
        rounded = 2.0 * round(x / 2.0);
    return rounded;
}

#define DIGITS 24

/* The JSON text json.JSONEncoder(ensure_ascii=False) writes for {term: round(weight * units)}
   of a centroid ({term: float}): `{"term": 12, ...}`; None when a term would need escaping, a
   weight is not a float or its product not an int of 18 digits or fewer (the Python path). */
static PyObject *
centroid_json(PyObject *self, PyObject *args)
{
    PyObject *centroid, *key, *value, *out = NULL;
    double units;
    if (!PyArg_ParseTuple(args, "Od:centroid_json", &centroid, &units))
        return NULL;
    if (!PyDict_CheckExact(centroid))
        Py_RETURN_NONE;
    Py_ssize_t n = PyDict_GET_SIZE(centroid), pos = 0, k = 0, length = 2, i, j;
    Py_UCS4 maxchar = 127;
    char *digits = PyMem_Malloc((size_t)(n > 0 ? n : 1) * DIGITS);
    if (digits == NULL)
        return PyErr_NoMemory();
    while (PyDict_Next(centroid, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key) || PyUnicode_READY(key) < 0
            || !PyFloat_CheckExact(value))
            goto python;
        int kind = PyUnicode_KIND(key);
        const void *data = PyUnicode_DATA(key);
        Py_ssize_t size = PyUnicode_GET_LENGTH(key);
        for (i = 0; i < size; i++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, i);
            if (c < 0x20 || c == '"' || c == '\\')
                goto python;
        }
        if (PyUnicode_MAX_CHAR_VALUE(key) > maxchar)
            maxchar = PyUnicode_MAX_CHAR_VALUE(key);
        double rounded = round_half_even(PyFloat_AS_DOUBLE(value) * units);
        if (!(fabs(rounded) < 1e18))
            goto python;
        int written = snprintf(digits + k * DIGITS, DIGITS, "%lld", (long long)rounded);
        /* ", " before all but the first, the quoted key, ": ", the digits */
        length += (k > 0 ? 2 : 0) + size + 4 + written;
        k++;
    }
    out = PyUnicode_New(length, maxchar);
    if (out == NULL)
        goto done;
    int kind = PyUnicode_KIND(out);
    void *data = PyUnicode_DATA(out);
    Py_ssize_t at = 0;
    PyUnicode_WRITE(kind, data, at++, '{');
    pos = 0;
    k = 0;
    while (PyDict_Next(centroid, &pos, &key, &value)) {
        if (k > 0) {
            PyUnicode_WRITE(kind, data, at++, ',');
            PyUnicode_WRITE(kind, data, at++, ' ');
        }
        PyUnicode_WRITE(kind, data, at++, '"');
        int key_kind = PyUnicode_KIND(key);
        const void *key_data = PyUnicode_DATA(key);
        Py_ssize_t size = PyUnicode_GET_LENGTH(key);
        for (i = 0; i < size; i++)
            PyUnicode_WRITE(kind, data, at++, PyUnicode_READ(key_kind, key_data, i));
        PyUnicode_WRITE(kind, data, at++, '"');
        PyUnicode_WRITE(kind, data, at++, ':');
        PyUnicode_WRITE(kind, data, at++, ' ');
        for (j = 0; digits[k * DIGITS + j]; j++)
            PyUnicode_WRITE(kind, data, at++, (Py_UCS4)digits[k * DIGITS + j]);
        k++;
    }
    PyUnicode_WRITE(kind, data, at++, '}');
    assert(at == length);
    goto done;
python:
    out = Py_NewRef(Py_None);
done:
    PyMem_Free(digits);
    return out;
}

typedef struct {
    PyObject *key; /* borrowed from the merged dict */
    double value;
    Py_ssize_t order;
} Weighted;

/* Descending by value, ties in their order: sorted(..., key=itemgetter(1), reverse=True). */
static int
heavier_first(const void *a, const void *b)
{
    const Weighted *x = a, *y = b;
    if (x->value > y->value)
        return -1;
    if (x->value < y->value)
        return 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* features.unit of the weights `items` (in their order, none NaN): the `most` heaviest (ties
   in their order), scaled to unit length; a new dict, NULL on error. Sorts `items`. */
static PyObject *
unit_dict(Weighted *items, Py_ssize_t n, Py_ssize_t most)
{
    PyObject *out, *number;
    Py_ssize_t i;
    if (n > most) { /* the `most` heaviest, heaviest first */
        qsort(items, (size_t)n, sizeof(Weighted), heavier_first);
        n = most;
    }
    double sum = 0.0, norm;
    for (i = 0; i < n; i++) /* sum(map(mul, values, values)): left to right */
        sum += items[i].value * items[i].value;
    norm = sqrt(sum);
    double scale = 1.0 / (norm != 0.0 ? norm : 1.0);
    out = _PyDict_NewPresized(n);
    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        number = PyFloat_FromDouble(items[i].value * scale);
        if (number == NULL || PyDict_SetItem(out, items[i].key, number) < 0) {
            Py_XDECREF(number);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(number);
    }
    return out;
}

/* bot.dedup.features.merge(centroid, vector, count) with unit()'s cut to `most` terms: a new
   dict, or None (a new reference) for the Python path, NULL on error. */
static PyObject *
merged_centroid(PyObject *centroid, PyObject *vector, double count, Py_ssize_t most)
{
    PyObject *merged = PyDict_New(), *out = NULL, *key, *value, *number;
    Weighted *items = NULL;
    Py_ssize_t pos = 0, n, i;
    if (merged == NULL)
        return NULL;
    while (PyDict_Next(centroid, &pos, &key, &value)) { /* the centroid times its count */
        if (!PyFloat_CheckExact(value))
            goto python;
        number = PyFloat_FromDouble(PyFloat_AS_DOUBLE(value) * count);
        if (number == NULL || PyDict_SetItem(merged, key, number) < 0) {
            Py_XDECREF(number);
            goto fail;
        }
        Py_DECREF(number);
    }
    pos = 0;
    while (PyDict_Next(vector, &pos, &key, &value)) { /* plus the article's vector */
        if (!PyFloat_CheckExact(value))
            goto python;
        PyObject *had = PyDict_GetItemWithError(merged, key);
        if (had == NULL && PyErr_Occurred())
            goto fail;
        number = PyFloat_FromDouble((had != NULL ? PyFloat_AS_DOUBLE(had) : 0.0)
                                    + PyFloat_AS_DOUBLE(value));
        if (number == NULL || PyDict_SetItem(merged, key, number) < 0) {
            Py_XDECREF(number);
            goto fail;
        }
        Py_DECREF(number);
    }
    n = PyDict_GET_SIZE(merged);
    items = PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof(Weighted));
    if (items == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    pos = 0;
    i = 0;
    while (PyDict_Next(merged, &pos, &key, &value)) {
        items[i].key = key;
        items[i].value = PyFloat_AS_DOUBLE(value);
        items[i].order = i;
        if (isnan(items[i].value))
            goto python; /* Python's sort of NaNs depends on where they stand */
        i++;
    }
    out = unit_dict(items, n, most);
    goto fail; /* done: release the working copies */
python:
    out = Py_NewRef(Py_None);
fail:
    PyMem_Free(items);
    Py_DECREF(merged);
    return out;
}

/* idf.get(key, 1.0) into *weight (idf None: 1.0): 1; 0 for a weight not a float (the Python
   path); -1 with an exception set. */
static int
idf_weight(PyObject *idf, PyObject *key, double *weight)
{
    *weight = 1.0;
    if (idf == Py_None)
        return 1;
    PyObject *found = PyDict_GetItemWithError(idf, key);
    if (found == NULL)
        return PyErr_Occurred() ? -1 : 1;
    if (!PyFloat_CheckExact(found))
        return 0;
    *weight = PyFloat_AS_DOUBLE(found);
    return 1;
}

/* bot.dedup.features.vectorize(raw, idf) with unit()'s cut to `most` terms: {term: weight *
   idf.get(term, 1.0)} made unit length; None for another Mapping, a weight not a float or a
   NaN product (the Python path). */
static PyObject *
vectorize(PyObject *self, PyObject *args)
{
    PyObject *raw, *idf, *key, *value, *out = NULL;
    Py_ssize_t most, pos = 0, n, i = 0;
    if (!PyArg_ParseTuple(args, "OOn:vectorize", &raw, &idf, &most))
        return NULL;
    if (!PyDict_CheckExact(raw) || (idf != Py_None && !PyDict_CheckExact(idf)) || most < 0)
        Py_RETURN_NONE;
    n = PyDict_GET_SIZE(raw);
    Weighted *items = PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof(Weighted));
    if (items == NULL)
        return PyErr_NoMemory();
    while (PyDict_Next(raw, &pos, &key, &value)) {
        if (!PyFloat_CheckExact(value))
            goto python;
        double weight;
        int got = idf_weight(idf, key, &weight);
        if (got < 0)
            goto done;
        if (got == 0)
            goto python;
        items[i].key = key;
        items[i].value = PyFloat_AS_DOUBLE(value) * weight;
        items[i].order = i;
        if (isnan(items[i].value))
            goto python; /* Python's sort of NaNs depends on where they stand */
        i++;
    }
    out = unit_dict(items, n, most);
    goto done;
python:
    out = Py_NewRef(Py_None);
done:
    PyMem_Free(items);
    return out;
}

static PyObject *
merge(PyObject *self, PyObject *args)
{
    PyObject *centroid, *vector, *count;
    Py_ssize_t most;
    if (!PyArg_ParseTuple(args, "OOOn:merge", &centroid, &vector, &count, &most))
        return NULL;
    if (!PyDict_CheckExact(centroid) || !PyDict_CheckExact(vector) || !PyLong_CheckExact(count)
        || most < 0)
        Py_RETURN_NONE;
    double times = PyLong_AsDouble(count); /* as float * int converts it */
    if (times == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return merged_centroid(centroid, vector, times, most);
}

/* The signature from each bin's smallest hash, empty bins densified by rotation. */
static PyObject *
densified(const uint64_t *smallest, const int *filled)
{
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
    return densified(smallest, filled);
}

/* CPython's hash of a tuple of `n` ints below 2**61 - 1 (each its own hash): tuplehash's
   xxHash-based mix, as `hash(tuple(lanes)) & (2**64 - 1)` gives it. */
static uint64_t
tuple_hash(const uint64_t *lanes, uint64_t n)
{
    const uint64_t p1 = 11400714785074694791ULL, p2 = 14029467366897019727ULL,
                   p5 = 2870177450012600261ULL;
    uint64_t acc = p5;
    for (uint64_t i = 0; i < n; i++) {
        acc += lanes[i] * p2;
        acc = (acc << 31) | (acc >> 33);
        acc *= p1;
    }
    acc += n ^ (p5 ^ 3527539UL);
    return acc == (uint64_t)-1 ? 1546275796u : acc;
}

/* bot.dedup.fingerprints.band_fields: `b<band>:<hash of its `rows` values, 48 bits, hex>`
   for each band of a signature (ints below 2**61 - 1), or None (the Python path). */
static PyObject *
band_fields(PyObject *self, PyObject *args)
{
    PyObject *sig;
    Py_ssize_t rows;
    if (!PyArg_ParseTuple(args, "O!n:band_fields", &PyTuple_Type, &sig, &rows))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(sig);
    if (rows <= 0 || rows > SIG || n % rows != 0)
        Py_RETURN_NONE;
    uint64_t lanes[SIG];
    PyObject *out = PyList_New(n / rows);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t band = 0; band < n / rows; band++) {
        for (Py_ssize_t i = 0; i < rows; i++) {
            PyObject *item = PyTuple_GET_ITEM(sig, band * rows + i);
            int overflow;
            long long v = PyLong_CheckExact(item) ? PyLong_AsLongLongAndOverflow(item, &overflow)
                                                  : -1;
            if (!PyLong_CheckExact(item) || overflow || v < 0
                || v >= (long long)((1ULL << 61) - 1)) {
                PyErr_Clear();
                Py_DECREF(out);
                Py_RETURN_NONE;
            }
            lanes[i] = (uint64_t)v;
        }
        char text[48];
        snprintf(text, sizeof text, "b%lld:%llx", (long long)band,
                 (unsigned long long)(tuple_hash(lanes, (uint64_t)rows) & 0xFFFFFFFFFFFFULL));
        PyObject *field = PyUnicode_FromString(text);
        if (field == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, band, field);
    }
    return out;
}

static int
ascending(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* bot.dedup.fingerprints.signature from the units of a text (code points or word numbers):
   the MinHash of the hashes of its 3-unit shingles, () when fewer than `minimum` distinct,
   None when a unit is not an int below 2**61 - 1 or there is no shingle (the Python path). */
static PyObject *
shingle_minhash(PyObject *self, PyObject *args)
{
    PyObject *units;
    Py_ssize_t minimum;
    if (!PyArg_ParseTuple(args, "O!n:shingle_minhash", &PyList_Type, &units, &minimum))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(units), i, distinct = 0;
    if (n < 3)
        Py_RETURN_NONE;
    uint64_t *values = PyMem_Malloc((size_t)n * sizeof(uint64_t) * 2), *hashes = values + n;
    if (values == NULL)
        return PyErr_NoMemory();
    for (i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(units, i);
        int overflow;
        long long v = PyLong_CheckExact(item) ? PyLong_AsLongLongAndOverflow(item, &overflow) : -1;
        if (!PyLong_CheckExact(item) || overflow || v < 0 || v >= (long long)((1ULL << 61) - 1)) {
            PyErr_Clear();
            PyMem_Free(values);
            Py_RETURN_NONE;
        }
        values[i] = (uint64_t)v;
    }
    for (i = 0; i + 2 < n; i++)
        hashes[i] = tuple_hash(values + i, 3);
    n -= 2;
    qsort(hashes, (size_t)n, sizeof(uint64_t), ascending);
    uint64_t smallest[SIG];
    int filled[SIG] = {0};
    for (i = 0; i < n; i++) {
        if (i > 0 && hashes[i] == hashes[i - 1])
            continue;
        distinct++;
        int bin = (int)(hashes[i] & (SIG - 1));
        if (!filled[bin]) { /* ascending: the first of a bin is its smallest */
            smallest[bin] = hashes[i];
            filled[bin] = 1;
        }
    }
    PyMem_Free(values);
    if (distinct < minimum)
        return PyTuple_New(0);
    return densified(smallest, filled);
}

static PyObject *
idf(PyObject *self, PyObject *args)
{
    PyObject *terms, *shares, *doc_freq, *key, *value, *share, *count;
    double top, prior, x, n;
    Py_ssize_t pos = 0;
    if (!PyArg_ParseTuple(args, "OOOdd:idf", &terms, &shares, &doc_freq, &top, &prior))
        return NULL;
    if (!PyDict_CheckExact(terms) || !PyDict_CheckExact(shares) || !PyDict_CheckExact(doc_freq))
        Py_RETURN_NONE;
    PyObject *out = _PyDict_NewPresized(PyDict_GET_SIZE(terms));
    if (out == NULL)
        return NULL;
    while (PyDict_Next(terms, &pos, &key, &value)) {
        share = PyDict_GetItemWithError(shares, key); /* borrowed */
        if (share == NULL) {
            if (PyErr_Occurred())
                goto error;
            goto python;
        }
        /* `shares.get(t) or self.share(t)`: a 0.0 share is 0.0 again from share() */
        if (!PyFloat_CheckExact(share))
            goto python;
        count = PyDict_GetItemWithError(doc_freq, key);
        if (count == NULL) {
            if (PyErr_Occurred())
                goto error;
            n = 0.0;
        }
        else {
            if (!PyLong_CheckExact(count))
                goto python;
            n = PyLong_AsDouble(count); /* float + int converts the int so */
            if (n == -1.0 && PyErr_Occurred())
                goto error;
        }
        x = prior * PyFloat_AS_DOUBLE(share);
        x = x + n;
        x = x + 1.0;
        if (!(x > 0.0) || !isfinite(x))
            goto python;
        PyObject *weight = PyFloat_FromDouble(top - log(x));
        if (weight == NULL || PyDict_SetItem(out, key, weight) < 0) {
            Py_XDECREF(weight);
            goto error;
        }
        Py_DECREF(weight);
    }
    return out;
python:
    Py_DECREF(out);
    Py_RETURN_NONE;
error:
    Py_DECREF(out);
    return NULL;
}

typedef struct {
    PyObject *term; /* borrowed from the raw dict */
    double key;     /* -weight * idf */
} Ranked;

/* (key, term) ascending, as Python orders the tuples (no NaN: the caller declines them). */
static int
lighter_key_first(const void *a, const void *b)
{
    const Ranked *x = a, *y = b;
    if (x->key < y->key)
        return -1;
    if (x->key > y->key)
        return 1;
    return PyUnicode_Compare(x->term, y->term); /* exact str: never an error */
}

/* _CHINESE_START.match(term): the first character in U+3400-U+9FFF or U+F900-U+FAFF. */
static int
chinese_start(PyObject *term)
{
    if (PyUnicode_GET_LENGTH(term) == 0)
        return 0;
    Py_UCS4 c = PyUnicode_READ_CHAR(term, 0);
    return (c >= 0x3400 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF);
}

static PyObject *
ranked_terms(PyObject *self, PyObject *args)
{
    PyObject *raw, *idf, *key, *value, *neutral = NULL, *native = NULL, *out = NULL;
    Py_ssize_t pos = 0, n, i = 0;
    if (!PyArg_ParseTuple(args, "OO:ranked_terms", &raw, &idf))
        return NULL;
    if (!PyDict_CheckExact(raw) || (idf != Py_None && !PyDict_CheckExact(idf)))
        Py_RETURN_NONE;
    n = PyDict_GET_SIZE(raw);
    Ranked *items = PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof(Ranked));
    if (items == NULL)
        return PyErr_NoMemory();
    while (PyDict_Next(raw, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key) || !PyFloat_CheckExact(value))
            goto python;
        double weight;
        int got = idf_weight(idf, key, &weight);
        if (got < 0)
            goto done;
        if (got == 0)
            goto python;
        items[i].term = key;
        items[i].key = -PyFloat_AS_DOUBLE(value) * weight;
        if (isnan(items[i].key))
            goto python; /* Python's sort of NaNs depends on where they stand */
        i++;
    }
    qsort(items, (size_t)n, sizeof(Ranked), lighter_key_first);
    if ((neutral = PyList_New(0)) == NULL || (native = PyList_New(0)) == NULL)
        goto done;
    for (i = 0; i < n; i++)
        if (PyList_Append(chinese_start(items[i].term) ? native : neutral, items[i].term) < 0)
            goto done;
    out = PyTuple_Pack(2, neutral, native);
    goto done;
python:
    out = Py_NewRef(Py_None);
done:
    Py_XDECREF(neutral);
    Py_XDECREF(native);
    PyMem_Free(items);
    return out;
}

#define EXACT_LIMIT (1LL << 52) /* counts beyond this: the Python path (exact as doubles) */

/* An int of magnitude below EXACT_LIMIT into *out: 1, or 0 (not such an int). */
static int
small_int(PyObject *value, long long *out)
{
    int overflow;
    if (!PyLong_CheckExact(value))
        return 0;
    *out = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow || *out >= EXACT_LIMIT || *out <= -EXACT_LIMIT) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

static PyObject *
df_lookup(PyObject *self, PyObject *args)
{
    PyObject *raw, *counts, *total_obj, *key, *value, *entry, *fetch = NULL, *known = NULL;
    PyObject *out = NULL;
    double refresh;
    long long total, count, seen;
    Py_ssize_t pos = 0;
    if (!PyArg_ParseTuple(args, "OOOd:df_lookup", &raw, &counts, &total_obj, &refresh))
        return NULL;
    if (!PyDict_CheckExact(raw) || !PyDict_CheckExact(counts) || !small_int(total_obj, &total))
        Py_RETURN_NONE;
    if ((fetch = PyList_New(0)) == NULL || (known = PyDict_New()) == NULL)
        goto done;
    while (PyDict_Next(raw, &pos, &key, &value)) {
        entry = PyDict_GetItemWithError(counts, key); /* borrowed */
        if (entry == NULL) {
            if (PyErr_Occurred())
                goto done;
            if (PyList_Append(fetch, key) < 0)
                goto done;
            continue;
        }
        if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 2
            || !PyLong_CheckExact(PyTuple_GET_ITEM(entry, 0))
            || !small_int(PyTuple_GET_ITEM(entry, 1), &seen))
            goto python;
        /* abs(total - seen) > refresh * max(seen, 20): exact, the ints below 2**53 */
        count = total - seen;
        if ((double)(count < 0 ? -count : count) > refresh * (double)(seen >= 20 ? seen : 20)) {
            if (PyList_Append(fetch, key) < 0)
                goto done;
        }
        else if (PyDict_SetItem(known, key, PyTuple_GET_ITEM(entry, 0)) < 0)
            goto done;
    }
    out = PyTuple_Pack(2, fetch, known);
    goto done;
python:
    out = Py_NewRef(Py_None);
done:
    Py_XDECREF(fetch);
    Py_XDECREF(known);
    return out;
}

#define JSON_DEPTH 32

/* Write `s` quoted, as json writes a str with ensure_ascii=False (\" \\ \b \f \n \r \t,
   other characters below U+0020 as \u00xx, the rest as they are): 0 on success, -1 on
   error. */
static int
json_str(_PyUnicodeWriter *w, PyObject *s)
{
    static const char hex[] = "0123456789abcdef";
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    Py_ssize_t n = PyUnicode_GET_LENGTH(s), i = 0, run = 0;
    if (_PyUnicodeWriter_WriteChar(w, '"') < 0)
        return -1;
    for (;;) {
        /* the run of characters written as they are */
        if (kind == PyUnicode_1BYTE_KIND) {
            const Py_UCS1 *bytes = data;
            while (i < n && bytes[i] >= 0x20 && bytes[i] != '"' && bytes[i] != '\\')
                i++;
        }
        else
            for (; i < n; i++) {
                Py_UCS4 c = PyUnicode_READ(kind, data, i);
                if (c < 0x20 || c == '"' || c == '\\')
                    break;
            }
        if (i > run) {
            int written = run == 0 && i == n ? _PyUnicodeWriter_WriteStr(w, s)
                                             : _PyUnicodeWriter_WriteSubstring(w, s, run, i);
            if (written < 0)
                return -1;
        }
        if (i == n)
            break;
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        char escaped[6] = {'\\', 0, '0', '0', 0, 0};
        Py_ssize_t size = 2;
        switch (c) {
        case '"': escaped[1] = '"'; break;
        case '\\': escaped[1] = '\\'; break;
        case '\b': escaped[1] = 'b'; break;
        case '\f': escaped[1] = 'f'; break;
        case '\n': escaped[1] = 'n'; break;
        case '\r': escaped[1] = 'r'; break;
        case '\t': escaped[1] = 't'; break;
        default: /* another character below U+0020 */
            escaped[1] = 'u';
            escaped[4] = hex[(c >> 4) & 0xf];
            escaped[5] = hex[c & 0xf];
            size = 6;
        }
        if (_PyUnicodeWriter_WriteASCIIString(w, escaped, size) < 0)
            return -1;
        run = ++i;
    }
    return _PyUnicodeWriter_WriteChar(w, '"') < 0 ? -1 : 0;
}

/* Write `obj` as json.JSONEncoder(ensure_ascii=False).encode writes it: 1, 0 for what only
   the Python path writes (another type, a non-finite float, a key not a str, nesting past
   JSON_DEPTH), -1 on error. */
static int
json_value(_PyUnicodeWriter *w, PyObject *obj, int depth)
{
    if (obj == Py_None)
        return _PyUnicodeWriter_WriteASCIIString(w, "null", 4) < 0 ? -1 : 1;
    if (obj == Py_True)
        return _PyUnicodeWriter_WriteASCIIString(w, "true", 4) < 0 ? -1 : 1;
    if (obj == Py_False)
        return _PyUnicodeWriter_WriteASCIIString(w, "false", 5) < 0 ? -1 : 1;
    if (PyUnicode_CheckExact(obj))
        return json_str(w, obj) < 0 ? -1 : 1;
    if (PyLong_CheckExact(obj) || PyFloat_CheckExact(obj)) {
        if (PyFloat_CheckExact(obj) && !isfinite(PyFloat_AS_DOUBLE(obj)))
            return 0; /* NaN, Infinity: the Python path */
        PyObject *text = PyObject_Repr(obj); /* int.__repr__, float.__repr__: json's */
        if (text == NULL)
            return -1;
        int done = _PyUnicodeWriter_WriteStr(w, text);
        Py_DECREF(text);
        return done < 0 ? -1 : 1;
    }
    if (depth >= JSON_DEPTH)
        return 0;
    if (PyList_CheckExact(obj) || PyTuple_CheckExact(obj)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(obj);
        if (_PyUnicodeWriter_WriteChar(w, '[') < 0)
            return -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (i > 0 && _PyUnicodeWriter_WriteASCIIString(w, ", ", 2) < 0)
                return -1;
            /* a list item is re-read each time: the list cannot shrink under us (no Python
               code runs here) */
            int done = json_value(w, PySequence_Fast_GET_ITEM(obj, i), depth + 1);
            if (done <= 0)
                return done;
        }
        return _PyUnicodeWriter_WriteChar(w, ']') < 0 ? -1 : 1;
    }
    if (PyDict_CheckExact(obj)) {
        PyObject *key, *value;
        Py_ssize_t pos = 0, k = 0;
        if (_PyUnicodeWriter_WriteChar(w, '{') < 0)
            return -1;
        while (PyDict_Next(obj, &pos, &key, &value)) {
            if (!PyUnicode_CheckExact(key))
                return 0;
            if (k++ > 0 && _PyUnicodeWriter_WriteASCIIString(w, ", ", 2) < 0)
                return -1;
            if (json_str(w, key) < 0 || _PyUnicodeWriter_WriteASCIIString(w, ": ", 2) < 0)
                return -1;
            int done = json_value(w, value, depth + 1);
            if (done <= 0)
                return done;
        }
        return _PyUnicodeWriter_WriteChar(w, '}') < 0 ? -1 : 1;
    }
    return 0;
}

static PyObject *
json_text(PyObject *self, PyObject *obj)
{
    _PyUnicodeWriter w;
    _PyUnicodeWriter_Init(&w);
    w.overallocate = 1;
    int done = json_value(&w, obj, 0);
    if (done <= 0) {
        _PyUnicodeWriter_Dealloc(&w);
        if (done < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    return _PyUnicodeWriter_Finish(&w);
}

static PyMethodDef methods[] = {
    {"cosine", cosine, METH_VARARGS,
     "cosine(a, b): the exactly rounded sum of a[t] * b[t] over shared terms, or None."},
    {"minhash", minhash, METH_VARARGS,
     "minhash(hashes): the densified one-permutation MinHash of 64-bit hashes, or None."},
    {"shingle_minhash", shingle_minhash, METH_VARARGS,
     "shingle_minhash(units, minimum): the MinHash of a text's 3-unit shingles, () when too "
     "few, or None."},
    {"band_fields", band_fields, METH_VARARGS,
     "band_fields(sig, rows): the LSH band fields of a signature, or None."},
    {"centroid_json", centroid_json, METH_VARARGS,
     "centroid_json(centroid, units): the JSON of {term: round(weight * units)}, or None."},
    {"merge", merge, METH_VARARGS,
     "merge(centroid, vector, count, most): features.merge's unit centroid, or None."},
    {"idf", idf, METH_VARARGS,
     "idf(terms, shares, doc_freq, top, prior): Background.idf's weights, or None."},
    {"json_text", json_text, METH_O,
     "json_text(obj): json.JSONEncoder(ensure_ascii=False).encode(obj), or None."},
    {"vectorize", vectorize, METH_VARARGS,
     "vectorize(raw, idf, most): features.vectorize's unit vector, or None."},
    {"ranked_terms", ranked_terms, METH_VARARGS,
     "ranked_terms(raw, idf): features.ranked_terms' neutral and Chinese terms, or None."},
    {"df_lookup", df_lookup, METH_VARARGS,
     "df_lookup(raw, counts, total, refresh): DfCache.lookup's terms to fetch and counts "
     "known, or None."},
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
