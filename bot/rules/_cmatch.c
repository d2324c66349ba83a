/* bot.rules._cmatch: the per-article hot path of bot.rules.engine in C.

Compiling stays in Python (grammar, entities, bot.rules.engine._Compiler); bot.rules.native
lowers the compiled rules into flat int32 tables that this module copies once per RuleSet:

  Automaton(keys)   Aho-Corasick over code points for every folded key: [(key id, text, edges)],
                    edges bit 1: the key starts with a word character (check the left boundary),
                    bit 2: it ends with one (check the right boundary).
  Core(...)         the literals, the rule trees (hash-consed nodes), the rules, their triggers,
                    the terms `match` reports (Python str objects, built once), and the indexes
                    key -> literals and literal/outlet -> rules.

Per article, Core.match(title, text, outlet id) runs the automaton over both folded fields,
records each key's whole-word occurrences, settles every triggered literal (masks, gap aliases),
tests the triggered rules (NEAR: word distances when both sides are Latin, else characters) and
builds {rule id: terms} directly. It follows bot.rules.engine's Python path step by step (the
same pair walk for NEAR, the same tie orders), so both paths return the same thing; the
equivalence tests run both against a plain reference.

Layouts (int32, native byte order; every offset and id is checked when a Core is built):
  literal record: title, nkeys, nkeys x (key, alias term, alias rank, nmasks, masks...),
                  ngaps, ngaps x (first key, second key, alias term)
  node record:    kind, index, then LEAF lit display | SOURCE outlet | NOT child |
                  AND/OR n children... | NEAR left right distance   (children before parents)
  triggers:       per rule n (-1: test on every article), n x (literal, or -2 - outlet id)
  sources:        for each rule limited to some outlets: rule index, n, n x outlet id

Scratch state lives in the Core and is stamped per article (no clearing); match() never calls
back into Python code and holds the GIL throughout, so calls on one Core never interleave. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

enum { N_LEAF, N_SOURCE, N_NOT, N_AND, N_OR, N_NEAR };
enum { P_TEST, P_OCC, P_NAMES };
/* A binding NEAR's flags, above BIND_SHIFT in its distance (bot.rules.scan.CLAUSE, AGENT,
   OTHER). */
#define BIND_SHIFT 16
#define BIND_AGENT 2
#define BIND_OTHER 4
#define MAX_TEXT (1 << 30)
#define MAX_DEPTH 1000 /* node trees are far shallower (grammar: 50 terms, 8 levels) */

#if PY_VERSION_HEX < 0x030C0000
#define READY(o) PyUnicode_READY(o)
#else
#define READY(o) 0 /* every str is ready since 3.12 */
#endif

/* ------------------------------------------------------------------ character classes */

static uint8_t alnum_bmp[0x10000]; /* str.isalnum() of each BMP code point */

static inline int is_alnum(Py_UCS4 ch) {
    return ch < 0x10000 ? alnum_bmp[ch] : (int)Py_UNICODE_ISALNUM(ch);
}

/* bot.rules.engine.is_word_char: letters and digits of space-separated scripts, and '_' */
static inline int is_word(Py_UCS4 ch) {
    return ch < 0x1100 && (alnum_bmp[ch] || ch == '_');
}

/* ------------------------------------------------------------------ growable arrays */

static int grow(void **p, Py_ssize_t *cap, Py_ssize_t need, size_t size) {
    if (need <= *cap) return 0;
    Py_ssize_t n = *cap ? *cap : 64;
    while (n < need) {
        if (n > PY_SSIZE_T_MAX / 2 / (Py_ssize_t)size) return -1;
        n *= 2;
    }
    void *q = PyMem_Realloc(*p, (size_t)n * size);
    if (q == NULL) return -1;
    *p = q;
    *cap = n;
    return 0;
}

#define VEC(T) struct { T *p; Py_ssize_t n, cap; }
#define RESERVE(c, v, extra) \
    (grow((void **)&(v).p, &(v).cap, (v).n + (extra), sizeof *(v).p) == 0 ? 1 : ((c)->failed = 1, 0))
#define PUSH(c, v, x) (RESERVE(c, v, 1) ? ((v).p[(v).n++] = (x), 1) : 0)

typedef VEC(int32_t) IVec;

/* ------------------------------------------------------------------ the automaton */

typedef struct {
    PyObject_HEAD
    int32_t n_states;
    int32_t key_limit; /* 1 + the largest key id */
    int32_t *start;    /* children of s: child_cp/child_to[start[s] .. start[s + 1]), by cp */
    Py_UCS4 *child_cp;
    int32_t *child_to;
    int32_t *root_bmp; /* the root's child for each BMP code point, 0: none */
    int32_t *fail, *out_key, *out_link, *depth;
    uint8_t *edges;
} Automaton;

static inline int32_t ac_goto(const Automaton *a, int32_t s, Py_UCS4 ch) {
    if (s == 0 && ch < 0x10000) {
        int32_t t = a->root_bmp[ch];
        return t ? t : -1;
    }
    int32_t lo = a->start[s], hi = a->start[s + 1];
    if (hi - lo <= 8) {
        for (; lo < hi; lo++)
            if (a->child_cp[lo] == ch) return a->child_to[lo];
        return -1;
    }
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (a->child_cp[mid] < ch) lo = mid + 1;
        else hi = mid;
    }
    return lo < a->start[s + 1] && a->child_cp[lo] == ch ? a->child_to[lo] : -1;
}

static void automaton_free_arrays(Automaton *a) {
    PyMem_Free(a->start);
    PyMem_Free(a->child_cp);
    PyMem_Free(a->child_to);
    PyMem_Free(a->root_bmp);
    PyMem_Free(a->fail);
    PyMem_Free(a->out_key);
    PyMem_Free(a->out_link);
    PyMem_Free(a->depth);
    PyMem_Free(a->edges);
    a->start = a->child_to = a->root_bmp = NULL;
    a->fail = a->out_key = a->out_link = a->depth = NULL;
    a->child_cp = NULL;
    a->edges = NULL;
}

static void automaton_dealloc(Automaton *a) {
    automaton_free_arrays(a);
    Py_TYPE(a)->tp_free((PyObject *)a);
}

typedef struct { int32_t parent; Py_UCS4 cp; int32_t child; } Edge;

static int edge_cmp(const void *x, const void *y) {
    const Edge *a = x, *b = y;
    if (a->parent != b->parent) return a->parent < b->parent ? -1 : 1;
    return a->cp < b->cp ? -1 : a->cp > b->cp;
}

/* A temporary map (state, code point) -> state while the trie is built. */
typedef struct { uint64_t *keys; int32_t *vals; uint64_t mask; } BuildMap;

static inline uint64_t bm_slot(const BuildMap *m, uint64_t key) {
    uint64_t i = (key * 0x9E3779B97F4A7C15ull) >> 32 & m->mask;
    while (m->keys[i] && m->keys[i] != key) i = (i + 1) & m->mask;
    return i;
}

static int automaton_build(Automaton *a, PyObject *seq) {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), chars = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3
                || !PyUnicode_Check(PyTuple_GET_ITEM(item, 1))) {
            PyErr_SetString(PyExc_TypeError, "keys must be (id, text, edges) tuples");
            return -1;
        }
        Py_ssize_t len = PyUnicode_GET_LENGTH(PyTuple_GET_ITEM(item, 1));
        if (len == 0 || len > MAX_TEXT) {
            PyErr_SetString(PyExc_ValueError, "a key must be a non-empty string");
            return -1;
        }
        chars += len;
        if (chars >= INT32_MAX / 2) {
            PyErr_SetString(PyExc_ValueError, "too many key characters");
            return -1;
        }
    }
    int32_t cap = (int32_t)chars + 1, count = 1, n_edges = 0;
    uint64_t size = 16;
    while (size < 2 * (uint64_t)cap) size *= 2;
    BuildMap map = {PyMem_Calloc(size, sizeof(uint64_t)), PyMem_Malloc(size * sizeof(int32_t)),
                    size - 1};
    Edge *edges = PyMem_Malloc((size_t)cap * sizeof(Edge));
    int32_t *queue = PyMem_Malloc((size_t)cap * sizeof(int32_t));
    a->depth = PyMem_Calloc((size_t)cap, sizeof(int32_t));
    a->out_key = PyMem_Malloc((size_t)cap * sizeof(int32_t));
    a->edges = PyMem_Calloc((size_t)cap, 1);
    a->fail = PyMem_Calloc((size_t)cap, sizeof(int32_t));
    a->out_link = PyMem_Calloc((size_t)cap, sizeof(int32_t));
    a->start = PyMem_Calloc((size_t)cap + 1, sizeof(int32_t));
    a->child_cp = PyMem_Malloc((size_t)cap * sizeof(Py_UCS4));
    a->child_to = PyMem_Malloc((size_t)cap * sizeof(int32_t));
    a->root_bmp = PyMem_Calloc(0x10000, sizeof(int32_t));
    int rc = -1;
    if (!map.keys || !map.vals || !edges || !queue || !a->depth || !a->out_key || !a->edges
            || !a->fail || !a->out_link || !a->start || !a->child_cp || !a->child_to
            || !a->root_bmp) {
        PyErr_NoMemory();
        goto done;
    }
    for (int32_t s = 0; s < cap; s++) a->out_key[s] = -1;
    a->key_limit = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i), *text = PyTuple_GET_ITEM(item, 1);
        long id = PyLong_AsLong(PyTuple_GET_ITEM(item, 0));
        long flags = PyLong_AsLong(PyTuple_GET_ITEM(item, 2));
        if (PyErr_Occurred()) goto done;
        if (id < 0 || id >= INT32_MAX || flags < 0 || flags > 3) {
            PyErr_SetString(PyExc_ValueError, "bad key id or edges");
            goto done;
        }
        if (READY(text) < 0) goto done;
        int kind = PyUnicode_KIND(text);
        const void *data = PyUnicode_DATA(text);
        int32_t s = 0;
        for (Py_ssize_t j = 0; j < PyUnicode_GET_LENGTH(text); j++) {
            Py_UCS4 ch = PyUnicode_READ(kind, data, j);
            uint64_t key = ((uint64_t)s << 21 | ch) + 1, slot = bm_slot(&map, key);
            if (map.keys[slot]) {
                s = map.vals[slot];
                continue;
            }
            map.keys[slot] = key;
            map.vals[slot] = count;
            a->depth[count] = a->depth[s] + 1;
            edges[n_edges++] = (Edge){s, ch, count};
            s = count++;
        }
        if (a->out_key[s] >= 0) {
            PyErr_SetString(PyExc_ValueError, "duplicate key text");
            goto done;
        }
        a->out_key[s] = (int32_t)id;
        a->edges[s] = (uint8_t)flags;
        if (id + 1 > a->key_limit) a->key_limit = (int32_t)id + 1;
    }
    a->n_states = count;
    qsort(edges, (size_t)n_edges, sizeof(Edge), edge_cmp);
    for (int32_t e = 0; e < n_edges; e++) {
        a->start[edges[e].parent + 1]++;
        a->child_cp[e] = edges[e].cp;
        a->child_to[e] = edges[e].child;
        if (edges[e].parent == 0 && edges[e].cp < 0x10000) a->root_bmp[edges[e].cp] = edges[e].child;
    }
    for (int32_t s = 0; s < count; s++) a->start[s + 1] += a->start[s];
    /* breadth first: failure links, and the next state with an output along them */
    int32_t head = 0, tail = 0;
    for (int32_t e = a->start[0]; e < a->start[1]; e++) queue[tail++] = a->child_to[e];
    while (head < tail) {
        int32_t s = queue[head++];
        for (int32_t e = a->start[s]; e < a->start[s + 1]; e++) {
            int32_t t = a->child_to[e], f = a->fail[s], g;
            for (;;) {
                g = ac_goto(a, f, a->child_cp[e]);
                if (g >= 0 || f == 0) break;
                f = a->fail[f];
            }
            a->fail[t] = g >= 0 ? g : 0;
            a->out_link[t] = a->out_key[a->fail[t]] >= 0 ? a->fail[t] : a->out_link[a->fail[t]];
            queue[tail++] = t;
        }
    }
    rc = 0;
done:
    PyMem_Free(map.keys);
    PyMem_Free(map.vals);
    PyMem_Free(edges);
    PyMem_Free(queue);
    return rc;
}

static int automaton_init(Automaton *a, PyObject *args, PyObject *kw) {
    static char *names[] = {"keys", NULL};
    PyObject *keys;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:Automaton", names, &keys)) return -1;
    if (a->start != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Automaton is already built");
        return -1;
    }
    PyObject *seq = PySequence_Fast(keys, "keys must be a sequence");
    if (seq == NULL) return -1;
    int rc = automaton_build(a, seq);
    Py_DECREF(seq);
    if (rc < 0) automaton_free_arrays(a);
    return rc;
}

static PyMemberDef automaton_members[] = {
    {"states", T_INT, offsetof(Automaton, n_states), READONLY, "states of the trie"},
    {NULL}
};

static PyTypeObject AutomatonType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bot.rules._cmatch.Automaton",
    .tp_doc = "Aho-Corasick over code points: Automaton([(key id, text, edges), ...]).",
    .tp_basicsize = sizeof(Automaton),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)automaton_init,
    .tp_dealloc = (destructor)automaton_dealloc,
    .tp_members = automaton_members,
};

/* ------------------------------------------------------------------ the core */

typedef struct { int32_t f, s, e; } KOcc;                 /* a key's whole-word occurrence */
typedef struct { int32_t k, f, s, e; } Hit;
typedef struct { int32_t f, s, e, term, a, b; int32_t latin; } Occ; /* a, b: NEAR parts */
typedef struct { int32_t off, n; } List;                  /* a list of arena indexes in pool */
typedef struct { int32_t f, s, rank, term; } First;

typedef struct {
    PyObject_HEAD
    Automaton *ac;
    PyObject *terms, *ids, *statics;
    int32_t n_keys, n_lits, n_nodes, n_terms, n_rules, n_outlets, n_words;
    int32_t gap_chars, gap_words, outlet;
    int ready, busy;
    uint8_t *latin;
    uint8_t *cues; /* key -> negation cue kind (CUE_*), NULL: no negation */
    int32_t neg_chars, neg_words;
    int32_t *lit_off, *lit_data, *nodes, *roots, *src_off, *src;
    int32_t *klit_start, *klit, *tlit_start, *tlit; /* key -> literals (title ones apart) */
    int32_t *lrule_start, *lrule, *orule_start, *orule, *always, n_always;
    uint8_t *lit_plain;
    /* per article */
    uint32_t stamp, name_stamp, near_stamp;
    int failed;
    int kinds[2];
    const void *datas[2];
    int32_t lens[2];
    uint32_t *key_stamp, *lit_stamp, *spot_stamp, *af_stamp, *nocc_stamp, *ntest_stamp;
    uint32_t *seen, *near_seen, word_stamp[2];
    int32_t *key_first, *key_n, *key_fill;
    uint8_t *key_title, *lit_val, *ntest_val;
    List *spots, *afs, *noccs;
    uint64_t *cand;
    VEC(Hit) hits;
    VEC(KOcc) kocc;
    VEC(Occ) arena;
    VEC(First) firsts;
    IVec pool, tmp, keys_found, lits_found, true_lits, names, afpool, ws[2], wc[2];
    VEC(KOcc) scopes;
} Core;

#define CORE_ARRAYS(X) X(latin) X(lit_off) X(lit_data) X(nodes) X(roots) X(src_off) X(src) \
    X(klit_start) X(klit) X(tlit_start) X(tlit) X(lrule_start) X(lrule) X(orule_start) \
    X(orule) X(always) X(lit_plain) X(key_stamp) X(lit_stamp) X(spot_stamp) X(af_stamp) \
    X(nocc_stamp) X(ntest_stamp) X(seen) X(near_seen) X(key_first) X(key_n) X(key_fill) \
    X(key_title) X(lit_val) X(ntest_val) X(spots) X(afs) X(noccs) X(cand) X(hits.p) X(kocc.p) \
    X(arena.p) X(firsts.p) X(pool.p) X(tmp.p) X(keys_found.p) X(lits_found.p) X(true_lits.p) \
    X(names.p) X(afpool.p) X(ws[0].p) X(ws[1].p) X(wc[0].p) X(wc[1].p) X(cues) X(scopes.p)

static void core_dealloc(Core *c) {
#define FREE(x) PyMem_Free(c->x);
    CORE_ARRAYS(FREE)
#undef FREE
    Py_XDECREF(c->ac);
    Py_XDECREF(c->terms);
    Py_XDECREF(c->ids);
    Py_XDECREF(c->statics);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static inline const int32_t *lit_rec(const Core *c, int32_t lit) {
    return c->lit_data + c->lit_off[lit];
}

/* The record after an entry (key, term, rank, nmasks, masks...). */
static inline const int32_t *entry_next(const int32_t *p) { return p + 4 + p[3]; }

static inline int key_occurs(const Core *c, int32_t k) { return c->key_stamp[k] == c->stamp; }

static inline int in_pool(const Core *c, int32_t k, int title) {
    return key_occurs(c, k) && (!title || c->key_title[k]);
}

static inline const KOcc *key_occ(const Core *c, int32_t k) { return c->kocc.p + c->key_first[k]; }

/* Offsets where words (runs of str.isalnum() characters) start in one field, and wc[i]: how
   many start before i (so the words in [a, b) are wc[b] - wc[a]). */
static void word_index(Core *c, int f) {
    if (c->word_stamp[f] == c->stamp) return;
    int32_t n = c->lens[f];
    c->ws[f].n = c->wc[f].n = 0;
    if (!RESERVE(c, c->wc[f], (Py_ssize_t)n + 1) || !RESERVE(c, c->ws[f], (Py_ssize_t)n + 1))
        return; /* out of memory: failed is set, callers see no index, the result is dropped */
    int kind = c->kinds[f], prev = 0;
    const void *data = c->datas[f];
    int32_t count = 0, *wc = c->wc[f].p, *ws = c->ws[f].p;
    for (int32_t i = 0; i < n; i++) {
        wc[i] = count;
        int a = is_alnum(PyUnicode_READ(kind, data, i));
        if (a && !prev) ws[count++] = i;
        prev = a;
    }
    wc[n] = count;
    c->wc[f].n = n + 1;
    c->ws[f].n = count;
    c->word_stamp[f] = c->stamp;
}

/* The farthest start a partner of an occurrence ending at `end` can have: `distance`
   characters, or (Latin) up to the word `distance` words on. */
static inline int64_t reach(Core *c, int f, int32_t end, int32_t distance, int latin) {
    int64_t limit = (int64_t)end + distance;
    if (latin) {
        word_index(c, f);
        if (c->wc[f].n <= end) return limit;
        int64_t after = (int64_t)c->wc[f].p[end] + distance;
        int64_t w = after < c->ws[f].n ? c->ws[f].p[after] : c->lens[f];
        if (w > limit) limit = w;
    }
    return limit;
}

static inline int32_t words_between(Core *c, int f, int32_t a, int32_t b) {
    word_index(c, f);
    if (c->wc[f].n <= a || c->wc[f].n <= b) return 0;
    return c->wc[f].p[b] - c->wc[f].p[a];
}

/* bot.rules.engine._close(ordered=False) */
static int close_to(Core *c, const Occ *x, const Occ *y, int32_t distance) {
    const Occ *first = x->s <= y->s ? x : y, *second = first == x ? y : x;
    if (second->s < first->e) return 1;
    if (x->latin && y->latin) return words_between(c, x->f, first->e, second->s) <= distance;
    return second->s - first->e <= distance;
}

static inline int before(const Occ *a, const Occ *b) {
    return a->f < b->f || (a->f == b->f && a->s < b->s);
}

/* Stable sort of pool[off, off + n) by (field, start) of the occurrences. */
static void sort_list(Core *c, int32_t off, int32_t n) {
    int32_t *v = c->pool.p + off, i;
    const Occ *A = c->arena.p;
    for (i = 1; i < n; i++)
        if (before(&A[v[i]], &A[v[i - 1]])) break;
    if (i >= n) return;
    if (n <= 16) {
        for (i = 1; i < n; i++) {
            int32_t x = v[i], j = i;
            for (; j > 0 && before(&A[x], &A[v[j - 1]]); j--) v[j] = v[j - 1];
            v[j] = x;
        }
        return;
    }
    c->tmp.n = 0;
    if (!RESERVE(c, c->tmp, n)) return;
    int32_t *src = v, *dst = c->tmp.p;
    for (int32_t width = 1; width < n; width *= 2) {
        for (int32_t lo = 0; lo < n; lo += 2 * width) {
            int32_t mid = lo + width < n ? lo + width : n;
            int32_t hi = lo + 2 * width < n ? lo + 2 * width : n, p = lo, q = mid, k = lo;
            while (p < mid && q < hi) dst[k++] = before(&A[src[q]], &A[src[p]]) ? src[q++] : src[p++];
            while (p < mid) dst[k++] = src[p++];
            while (q < hi) dst[k++] = src[q++];
        }
        int32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != v) memcpy(v, src, (size_t)n * sizeof *v);
}

static void push_occ(Core *c, Occ o) {
    if (!RESERVE(c, c->pool, 1) || !PUSH(c, c->arena, o)) return;
    c->pool.p[c->pool.n++] = (int32_t)c->arena.n - 1;
}

/* Whether an occurrence of an alias lies inside an occurrence of one of its masks. */
static int masked(const Core *c, const KOcc *o, const int32_t *masks, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        int32_t m = masks[i];
        if (!key_occurs(c, m)) continue;
        const KOcc *mo = key_occ(c, m);
        for (int32_t j = 0; j < c->key_n[m]; j++) {
            if (mo[j].f > o->f || (mo[j].f == o->f && mo[j].s > o->s)) break;
            if (mo[j].f == o->f && o->e <= mo[j].e) return 1;
        }
    }
    return 0;
}

/* bot.rules.engine._Leaf._gap: pairs (x, y) of a gap alias `a...b`, y after x and within reach;
   emit: push them as occurrences, else only tell whether there is one. */
static int gap_pairs(Core *c, int32_t a, int32_t b, int title, int32_t term, int emit) {
    int la = c->latin[a], words = la && c->latin[b], found = 0;
    int32_t dist = words ? c->gap_words : c->gap_chars, nx = c->key_n[a], ny = c->key_n[b];
    for (int32_t ix = 0; ix < nx; ix++) {
        KOcc x = key_occ(c, a)[ix];
        if (title && x.f) break;
        int64_t limit = reach(c, x.f, x.e, dist, la);
        const KOcc *ys = key_occ(c, b);
        int32_t lo = 0, hi = ny;
        while (lo < hi) { /* the first y at or after (x.f, x.e) */
            int32_t mid = lo + (hi - lo) / 2;
            if (ys[mid].f < x.f || (ys[mid].f == x.f && ys[mid].s < x.e)) lo = mid + 1;
            else hi = mid;
        }
        for (int32_t iy = lo; iy < ny; iy++) {
            KOcc y = key_occ(c, b)[iy];
            if (y.f != x.f || y.s > limit) break;
            if (y.s - x.e <= dist || (words && words_between(c, x.f, x.e, y.s) <= dist)) {
                if (!emit) return 1;
                push_occ(c, (Occ){x.f, x.s, y.e, term, -1, -1, words});
                found = 1;
            }
        }
    }
    return found;
}

/* bot.rules.engine._Leaf.holds: an unmasked occurrence of a key, or a gap pair. */
static int lit_holds(Core *c, int32_t lit) {
    const int32_t *p = lit_rec(c, lit);
    int title = p[0];
    int32_t nk = p[1];
    p += 2;
    for (int32_t i = 0; i < nk; i++, p = entry_next(p)) {
        int32_t k = p[0], nm = p[3];
        if (!in_pool(c, k, title)) continue;
        if (nm == 0) return 1;
        const KOcc *o = key_occ(c, k);
        for (int32_t j = 0; j < c->key_n[k]; j++) {
            if (title && o[j].f) break;
            if (!masked(c, &o[j], p + 4, nm)) return 1;
        }
    }
    int32_t ng = *p++;
    for (int32_t g = 0; g < ng; g++, p += 3)
        if (in_pool(c, p[0], title) && in_pool(c, p[1], title) && gap_pairs(c, p[0], p[1], title, p[2], 0))
            return 1;
    return 0;
}

static inline int lit_true(const Core *c, int32_t lit) {
    return c->lit_stamp[lit] == c->stamp && c->lit_val[lit];
}

/* Where a literal occurs, reporting the alias found, in order of position (ties: keys by
   folded text, then gap aliases in order): bot.rules.engine._Leaf._occurrences. */
static List lit_spots(Core *c, int32_t lit) {
    if (c->spot_stamp[lit] == c->stamp) return c->spots[lit];
    int32_t start = (int32_t)c->pool.n;
    const int32_t *p = lit_rec(c, lit);
    int title = p[0];
    int32_t nk = p[1];
    p += 2;
    for (int32_t i = 0; i < nk; i++, p = entry_next(p)) {
        int32_t k = p[0], term = p[1], nm = p[3], any = 0;
        if (!in_pool(c, k, title)) continue;
        for (int32_t m = 0; m < nm && !any; m++) any = key_occurs(c, p[4 + m]);
        for (int32_t j = 0; j < c->key_n[k]; j++) {
            KOcc o = key_occ(c, k)[j];
            if (title && o.f) break;
            if (any && masked(c, &o, p + 4, nm)) continue;
            push_occ(c, (Occ){o.f, o.s, o.e, term, -1, -1, c->latin[k]});
        }
    }
    int32_t ng = *p++;
    for (int32_t g = 0; g < ng; g++, p += 3)
        if (in_pool(c, p[0], title) && in_pool(c, p[1], title))
            gap_pairs(c, p[0], p[1], title, p[2], 1);
    List out = {start, (int32_t)c->pool.n - start};
    sort_list(c, out.off, out.n);
    c->spot_stamp[lit] = c->stamp;
    c->spots[lit] = out;
    return out;
}

static int pairs(Core *c, List left, List right, int32_t distance, int mode, int32_t *wanted);
static int test(Core *c, int32_t node);
static List unclaimed(Core *c, const int32_t *r);

/* A node's occurrences (leaves: the term as reported), in order of position. */
static List node_occ(Core *c, int32_t node) {
    const int32_t *r = c->nodes + node;
    int32_t idx = r[1];
    if (c->nocc_stamp[idx] == c->stamp) return c->noccs[idx];
    List out = {(int32_t)c->pool.n, 0};
    if (r[0] == N_LEAF) {
        List spots = lit_spots(c, r[2]);
        if (r[3] < 0) {
            out = spots;
        } else {
            out.off = (int32_t)c->pool.n;
            for (int32_t i = 0; i < spots.n; i++) {
                Occ o = c->arena.p[c->pool.p[spots.off + i]];
                o.term = r[3];
                push_occ(c, o);
            }
            out.n = (int32_t)c->pool.n - out.off;
        }
    } else if (r[0] == N_OR) {
        int32_t n = r[2], total = 0;
        List *parts = PyMem_Malloc((size_t)n * sizeof(List));
        if (parts == NULL) {
            c->failed = 1;
        } else {
            for (int32_t i = 0; i < n; i++) {
                parts[i] = node_occ(c, r[3 + i]);
                total += parts[i].n;
            }
            if (RESERVE(c, c->pool, total)) {
                out.off = (int32_t)c->pool.n;
                for (int32_t i = 0; i < n; i++)
                    for (int32_t j = 0; j < parts[i].n; j++)
                        c->pool.p[c->pool.n++] = c->pool.p[parts[i].off + j];
                out.n = total;
                sort_list(c, out.off, out.n);
            }
            PyMem_Free(parts);
        }
    } else if (r[0] == N_NEAR && (r[4] >> BIND_SHIFT) & BIND_OTHER) {
        out = unclaimed(c, r);
    } else if (r[0] == N_NEAR) {
        List left = node_occ(c, r[2]), right = node_occ(c, r[3]);
        out.off = (int32_t)c->pool.n;
        pairs(c, left, right, r[4], P_OCC, NULL);
        out.n = (int32_t)c->pool.n - out.off;
    }
    c->nocc_stamp[idx] = c->stamp;
    c->noccs[idx] = out;
    return out;
}

/* ---- the terms `match` reports */

static void name_add(Core *c, int32_t term) {
    if (c->seen[term] == c->name_stamp) return;
    c->seen[term] = c->name_stamp;
    PUSH(c, c->names, term);
}

/* The terms of the leaves inside an occurrence, counted once per NEAR walk. */
static void near_terms(Core *c, int32_t o, int32_t *count, int add) {
    const Occ *x = &c->arena.p[o];
    if (x->a >= 0) {
        int32_t b = x->b;
        near_terms(c, x->a, count, add);
        near_terms(c, b, count, add);
        return;
    }
    if (c->near_seen[x->term] == c->near_stamp) return;
    c->near_seen[x->term] = c->near_stamp;
    (*count)++;
    if (add) name_add(c, x->term);
}

static void next_near_stamp(Core *c) {
    if (++c->near_stamp == 0) {
        memset(c->near_seen, 0, (size_t)c->n_terms * sizeof(uint32_t));
        c->near_stamp = 1;
    }
}


static inline Py_UCS4 char_at(Core *c, int f, int32_t i) {
    return PyUnicode_READ(c->kinds[f], c->datas[f], i);
}

/* bot.rules.scan.bound: who and their action in one sentence; with BIND_AGENT, who neither the
   one the action is done to nor in another clause of Chinese text. */
static int says_before(Core *c, int f, int32_t i) { /* bot.rules.scan._SAYS ends at i */
    Py_UCS4 a = i >= 1 ? char_at(c, f, i - 1) : 0, b = i >= 2 ? char_at(c, f, i - 2) : 0;
    return a == 0x8BF4 /* 说 */ || a == 0x79F0 /* 称 */
        || (b == 0x8868 && a == 0x793A) /* 表示 */ || (b == 0x6307 && a == 0x51FA) /* 指出 */;
}

static int bound(Core *c, const Occ *who, const Occ *act, int flags) {
    int f = who->f;
    int32_t n = c->lens[f];
    const Occ *first = who->s <= act->s ? who : act, *second = first == who ? act : who;
    int agent = flags & BIND_AGENT, after = who->s >= act->e;
    int chinese = agent && !(who->latin && act->latin);
    for (int32_t i = first->e; i < second->s; i++) {
        Py_UCS4 ch = char_at(c, f, i);
        if (ch == 0x3002 || ch == '!' || ch == '?' || ch == ';') return 0;
        if (ch == '.' && (i + 1 == n || char_at(c, f, i + 1) == ' ') && i >= 2
            && is_alnum(char_at(c, f, i - 1)) && is_alnum(char_at(c, f, i - 2)))
            return 0;
        if (chinese && ch == ',' && (after || says_before(c, f, i))) return 0;
        if (chinese && after && ch == ' ' && i > 0 && i < n - 1
            && char_at(c, f, i - 1) >= 0x2E80 && char_at(c, f, i + 1) >= 0x2E80)
            return 0;
    }
    if (!agent) return 1;
    if (after) { /* the gap, stripped of white space, is no object's */
        int32_t a = act->e, b = who->s;
        while (a < b && Py_UNICODE_ISSPACE(char_at(c, f, a))) a++;
        while (b > a && Py_UNICODE_ISSPACE(char_at(c, f, b - 1))) b--;
        static const char *gaps[] = {"on", "against", "at"};
        if (a == b || (b - a == 1 && char_at(c, f, a) == 0x4E86 /* 了 */)) return 0;
        for (size_t g = 0; g < sizeof gaps / sizeof *gaps; g++) {
            int32_t len = (int32_t)strlen(gaps[g]), k = 0;
            if (b - a != len) continue;
            while (k < len && char_at(c, f, a + k) == (Py_UCS4)gaps[g][k]) k++;
            if (k == len) return 0;
        }
        return 1;
    }
    if (who->e > act->s || who->s == 0) return 1;
    Py_UCS4 mark = char_at(c, f, who->s - 1);
    return mark != 0x5BF9 /* 对 */ && mark != 0x5411 /* 向 */;
}

/* bot.rules.scan.done_by: who right before the action, or its possessor ('s, 的, 发动的,
   发起的), neither the one it is done to (对/向 before them) nor one of several doers. */
static int done_by(Core *c, const Occ *who, const Occ *act) {
    int f = who->f;
    if (f != act->f || who->e > act->s) return 0;
    int32_t a = who->e, b = act->s, i = who->s;
    while (a < b && Py_UNICODE_ISSPACE(char_at(c, f, a))) a++;
    while (b > a && Py_UNICODE_ISSPACE(char_at(c, f, b - 1))) b--;
    Py_UCS4 g0 = a < b ? char_at(c, f, a) : 0, g1 = b - a >= 2 ? char_at(c, f, a + 1) : 0;
    if (!(a == b || (b - a == 2 && (g0 == '\'' || g0 == 0x2019) && g1 == 's')
          || (b - a == 1 && g0 == 0x7684 /* 的 */)
          || (b - a == 3 && g0 == 0x53D1 /* 发 */ && (g1 == 0x52A8 /* 动 */ || g1 == 0x8D77 /* 起 */)
              && char_at(c, f, a + 2) == 0x7684)))
        return 0;
    while (i > 0 && Py_UNICODE_ISSPACE(char_at(c, f, i - 1))) i--;
    if (i == 0) return 1;
    Py_UCS4 m = char_at(c, f, i - 1);
    if (m == 0x5BF9 /* 对 */ || m == 0x5411 /* 向 */ || m == 0x4E0E /* 与 */ || m == 0x548C /* 和 */
        || m == 0x53CA /* 及 */ || m == 0x3001 /* 、 */ || m == '&')
        return 0;
    return !(i >= 3 && char_at(c, f, i - 3) == 'a' && char_at(c, f, i - 2) == 'n' && m == 'd'
             && (i == 3 || !is_alnum(char_at(c, f, i - 4))));
}

/* A NEAR with BIND_OTHER: the right side's occurrences no one on the left does (`done_by`);
   with a distance, no one on the left is bound to (within it, `bound` with the other flags). */
static List unclaimed(Core *c, const int32_t *r) {
    List left = test(c, r[2]) ? node_occ(c, r[2]) : (List){0, 0}, right = node_occ(c, r[3]);
    List out = {(int32_t)c->pool.n, 0};
    int32_t distance = r[4] & ((1 << BIND_SHIFT) - 1), flags = (r[4] >> BIND_SHIFT) & ~BIND_OTHER;
    for (int32_t j = 0; j < right.n; j++) {
        int32_t y = c->pool.p[right.off + j], mine = 1;
        for (int32_t i = 0; i < left.n && mine; i++) {
            const Occ *x = &c->arena.p[c->pool.p[left.off + i]], *Y = &c->arena.p[y];
            mine = distance ? !(x->f == Y->f && close_to(c, x, Y, distance)
                                && bound(c, x, Y, flags))
                            : !done_by(c, x, Y);
        }
        if (mine && !PUSH(c, c->pool, y)) break;
    }
    out.n = (int32_t)c->pool.n - out.off;
    return out;
}

/* bot.rules.engine._ordered_pairs: every close pair (x, y), x in the merge of both sides (the
   left first on ties), y from the other side at or after x. P_TEST: whether there is one;
   P_OCC: push each as an occurrence; P_NAMES: report their terms until all `wanted` are seen.
   A binding NEAR (flags above BIND_SHIFT) keeps only the pairs `bound` keeps. */
static int pairs(Core *c, List left, List right, int32_t distance, int mode, int32_t *wanted) {
    int32_t i = 0, j = 0, seen = 0, flags = distance >> BIND_SHIFT;
    int from_left;
    distance &= (1 << BIND_SHIFT) - 1;
    while (i < left.n || j < right.n) {
        List other;
        int32_t x, k;
        if (j == right.n || (i < left.n && !before(&c->arena.p[c->pool.p[right.off + j]],
                                                   &c->arena.p[c->pool.p[left.off + i]]))) {
            x = c->pool.p[left.off + i++];
            other = right;
            k = j;
            from_left = 1;
        } else {
            x = c->pool.p[right.off + j++];
            other = left;
            k = i;
            from_left = 0;
        }
        Occ X = c->arena.p[x];
        if (k == other.n || c->arena.p[c->pool.p[other.off + k]].f != X.f) continue;
        int64_t limit = reach(c, X.f, X.e, distance, X.latin);
        for (; k < other.n; k++) {
            int32_t y = c->pool.p[other.off + k];
            Occ Y = c->arena.p[y];
            if (Y.f != X.f || Y.s > limit) break;
            if (!close_to(c, &X, &Y, distance)) continue;
            if (flags && !(from_left ? bound(c, &X, &Y, flags) : bound(c, &Y, &X, flags)))
                continue;
            if (mode == P_TEST) return 1;
            if (mode == P_OCC) {
                push_occ(c, (Occ){X.f, X.s, X.e > Y.e ? X.e : Y.e, -1, x, y, X.latin && Y.latin});
                continue;
            }
            near_terms(c, x, &seen, 1);
            near_terms(c, y, &seen, 1);
            if (seen >= *wanted) return 1;
            if (c->failed) return 0;
        }
    }
    return 0;
}

/* bot.rules.engine._Near.names */
static void near_names(Core *c, const int32_t *r) {
    int32_t possible = 0;
    if ((r[4] >> BIND_SHIFT) & BIND_OTHER) { /* the terms of the occurrences kept */
        List kept = node_occ(c, (int32_t)(r - c->nodes));
        next_near_stamp(c);
        for (int32_t i = 0; i < kept.n; i++) near_terms(c, c->pool.p[kept.off + i], &possible, 1);
        return;
    }
    List left = node_occ(c, r[2]), right = node_occ(c, r[3]);
    next_near_stamp(c);
    for (int32_t i = 0; i < left.n; i++) near_terms(c, c->pool.p[left.off + i], &possible, 0);
    for (int32_t i = 0; i < right.n; i++) near_terms(c, c->pool.p[right.off + i], &possible, 0);
    if (possible == 0) return;
    next_near_stamp(c);
    pairs(c, left, right, r[4], P_NAMES, &possible);
}

static int first_cmp(const First *a, const First *b) {
    if (a->f != b->f) return a->f < b->f ? -1 : 1;
    if (a->s != b->s) return a->s < b->s ? -1 : 1;
    return a->rank < b->rank ? -1 : a->rank > b->rank;
}

/* bot.rules.engine._Leaf._aliases_found: the aliases of an entity that occur (kept), in order of
   first occurrence, ties by the alias as written. */
static void alias_names(Core *c, int32_t lit) {
    const int32_t *p = lit_rec(c, lit);
    int title = p[0];
    int32_t nk = p[1], ng;
    const int32_t *q = p + 2;
    for (int32_t i = 0; i < nk; i++) q = entry_next(q);
    ng = *q;
    if (ng > 0) {
        List spots = lit_spots(c, lit);
        for (int32_t i = 0; i < spots.n; i++)
            name_add(c, c->arena.p[c->pool.p[spots.off + i]].term);
        return;
    }
    if (c->af_stamp[lit] != c->stamp) {
        c->firsts.n = 0;
        q = p + 2;
        for (int32_t i = 0; i < nk; i++, q = entry_next(q)) {
            int32_t k = q[0];
            if (!in_pool(c, k, title)) continue;
            for (int32_t j = 0; j < c->key_n[k]; j++) {
                const KOcc *o = &key_occ(c, k)[j];
                if (title && o->f) break;
                if (q[3] && masked(c, o, q + 4, q[3])) continue;
                First first = {o->f, o->s, q[2], q[1]};
                int32_t at = (int32_t)c->firsts.n;
                if (!PUSH(c, c->firsts, first)) break;
                for (; at > 0 && first_cmp(&first, &c->firsts.p[at - 1]) < 0; at--)
                    c->firsts.p[at] = c->firsts.p[at - 1];
                c->firsts.p[at] = first;
                break;
            }
        }
        List found = {(int32_t)c->afpool.n, 0};
        if (RESERVE(c, c->afpool, c->firsts.n)) {
            for (Py_ssize_t i = 0; i < c->firsts.n; i++)
                c->afpool.p[c->afpool.n++] = c->firsts.p[i].term;
            found.n = (int32_t)c->firsts.n;
        }
        c->afs[lit] = found;
        c->af_stamp[lit] = c->stamp;
    }
    List found = c->afs[lit];
    for (int32_t i = 0; i < found.n; i++) name_add(c, c->afpool.p[found.off + i]);
}

/* bot.rules.engine's node.names: what a rule that holds reports, in order. */
static void names(Core *c, int32_t node) {
    const int32_t *r = c->nodes + node;
    switch (r[0]) {
    case N_LEAF:
        if (r[3] >= 0) name_add(c, r[3]);
        else alias_names(c, r[2]);
        break;
    case N_AND:
        for (int32_t i = 0; i < r[2]; i++) names(c, r[3 + i]);
        break;
    case N_OR:
        for (int32_t i = 0; i < r[2]; i++)
            if (test(c, r[3 + i])) names(c, r[3 + i]);
        break;
    case N_NEAR:
        near_names(c, r);
        break;
    default: /* NOT and SOURCE report nothing */
        break;
    }
}

static int test(Core *c, int32_t node) {
    const int32_t *r = c->nodes + node;
    switch (r[0]) {
    case N_LEAF:
        return lit_true(c, r[2]);
    case N_SOURCE:
        return r[2] == c->outlet;
    case N_NOT:
        return !test(c, r[2]);
    case N_AND:
        for (int pass = 0; pass < 2; pass++) /* leaves first: they cost a lookup */
            for (int32_t i = 0; i < r[2]; i++) {
                int leaf = c->nodes[r[3 + i]] == N_LEAF;
                if (leaf == !pass && !test(c, r[3 + i])) return 0;
            }
        return 1;
    case N_OR:
        for (int32_t i = 0; i < r[2]; i++)
            if (test(c, r[3 + i])) return 1;
        return 0;
    default: { /* N_NEAR */
        int32_t idx = r[1];
        if (c->ntest_stamp[idx] != c->stamp) {
            c->ntest_val[idx] = (r[4] >> BIND_SHIFT) & BIND_OTHER
                ? test(c, r[3]) && node_occ(c, node).n > 0
                : test(c, r[2]) && test(c, r[3])
                && pairs(c, node_occ(c, r[2]), node_occ(c, r[3]), r[4], P_TEST, NULL);
            c->ntest_stamp[idx] = c->stamp;
        }
        return c->ntest_val[idx];
    }
    }
}

/* ---- one article */

static inline __attribute__((always_inline)) void scan_field(Core *c, int kind, const void *data,
                                                             int32_t n, int32_t field) {
    const Automaton *a = c->ac;
    int32_t s = 0;
    for (int32_t i = 0; i < n; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        for (;;) {
            int32_t t = ac_goto(a, s, ch);
            if (t >= 0) {
                s = t;
                break;
            }
            if (s == 0) break;
            s = a->fail[s];
        }
        for (int32_t o = a->out_key[s] >= 0 ? s : a->out_link[s]; o; o = a->out_link[o]) {
            int32_t end = i + 1, start = end - a->depth[o];
            uint8_t edges = a->edges[o];
            if ((edges & 1) && start > 0 && is_word(PyUnicode_READ(kind, data, start - 1))) continue;
            if ((edges & 2) && end < n && is_word(PyUnicode_READ(kind, data, end))) continue;
            PUSH(c, c->hits, ((Hit){a->out_key[o], field, start, end}));
        }
    }
}

static void scan(Core *c, int32_t field) {
    switch (c->kinds[field]) {
    case PyUnicode_1BYTE_KIND:
        scan_field(c, PyUnicode_1BYTE_KIND, c->datas[field], c->lens[field], field);
        break;
    case PyUnicode_2BYTE_KIND:
        scan_field(c, PyUnicode_2BYTE_KIND, c->datas[field], c->lens[field], field);
        break;
    default:
        scan_field(c, PyUnicode_4BYTE_KIND, c->datas[field], c->lens[field], field);
        break;
    }
}

/* ---- negation (bot.rules.negation): a cue denies what follows (CUE_BEFORE, `否认`, `not`)
   or what precedes it (CUE_AFTER, `无关`) in its clause, up to neg_chars characters (a CJK cue)
   or neg_words words (a Latin one); a cue inside a CUE_KEEP phrase (`not only`) denies nothing.
   The hits of other keys inside a denied span are dropped before anything else sees them. */

enum { CUE_NONE, CUE_BEFORE, CUE_AFTER, CUE_KEEP };

/* bot.rules.negation.BREAKS: what ends a clause */
static inline int is_break(Py_UCS4 ch) {
    switch (ch) {
    case ',': case '.': case ';': case ':': case '!': case '?': case '(': case ')':
    case '[': case ']': case 0x3002: /* 。 */
        return 1;
    default:
        return 0;
    }
}

/* The span a cue hit denies (bot.rules.negation.scope). */
static KOcc denied(const Core *c, const Hit *h) {
    int kind = c->kinds[h->f];
    const void *data = c->datas[h->f];
    int32_t n = c->lens[h->f], a, b;
    int latin = c->latin[h->k];
    if (c->cues[h->k] == CUE_BEFORE) {
        a = b = h->e;
        int32_t words = 0;
        int prev = 0;
        for (; b < n; b++) {
            Py_UCS4 ch = PyUnicode_READ(kind, data, b);
            if (is_break(ch) || (!latin && b - a >= c->neg_chars)) break;
            int al = is_alnum(ch);
            if (latin && al && !prev && words++ == c->neg_words) break;
            prev = al;
        }
    } else {
        a = b = h->s;
        int32_t words = 0;
        int prev = 0;
        for (; a > 0; a--) {
            Py_UCS4 ch = PyUnicode_READ(kind, data, a - 1);
            if (is_break(ch) || (!latin && b - a >= c->neg_chars)) break;
            int al = is_alnum(ch);
            if (latin && al && !prev && words++ == c->neg_words) break;
            prev = al;
        }
    }
    return (KOcc){h->f, a, b};
}

/* scopes holds the KEEP phrases found first, then the denied spans (from `first` on). */
static void negate(Core *c) {
    c->scopes.n = 0;
    for (Py_ssize_t i = 0; i < c->hits.n; i++) {
        const Hit *h = &c->hits.p[i];
        if (c->cues[h->k] == CUE_KEEP) PUSH(c, c->scopes, ((KOcc){h->f, h->s, h->e}));
    }
    Py_ssize_t first = c->scopes.n;
    for (Py_ssize_t i = 0; i < c->hits.n; i++) {
        const Hit *h = &c->hits.p[i];
        int cue = c->cues[h->k];
        if (cue != CUE_BEFORE && cue != CUE_AFTER) continue;
        int kept = 0;
        for (Py_ssize_t j = 0; j < first && !kept; j++) {
            KOcc g = c->scopes.p[j];
            kept = g.f == h->f && g.s <= h->s && h->e <= g.e;
        }
        if (!kept) PUSH(c, c->scopes, denied(c, h));
    }
    if (c->scopes.n == first) return;
    Py_ssize_t out = 0;
    for (Py_ssize_t i = 0; i < c->hits.n; i++) {
        Hit h = c->hits.p[i];
        int drop = 0;
        if (c->cues[h.k] == CUE_NONE)
            for (Py_ssize_t j = first; j < c->scopes.n && !drop; j++) {
                KOcc z = c->scopes.p[j];
                drop = z.f == h.f && z.s <= h.s && h.e <= z.e;
            }
        if (!drop) c->hits.p[out++] = h;
    }
    c->hits.n = out;
}

/* Each key's occurrences, contiguous and in order of (field, start) (the hits come so). */
static void index_keys(Core *c) {
    c->keys_found.n = 0;
    for (Py_ssize_t i = 0; i < c->hits.n; i++) {
        int32_t k = c->hits.p[i].k;
        if (c->key_stamp[k] != c->stamp) {
            c->key_stamp[k] = c->stamp;
            c->key_n[k] = 0;
            c->key_title[k] = c->hits.p[i].f == 0;
            PUSH(c, c->keys_found, k);
        }
        c->key_n[k]++;
    }
    int32_t at = 0;
    for (Py_ssize_t i = 0; i < c->keys_found.n; i++) {
        int32_t k = c->keys_found.p[i];
        c->key_first[k] = c->key_fill[k] = at;
        at += c->key_n[k];
    }
    c->kocc.n = 0;
    if (!RESERVE(c, c->kocc, at)) {
        for (Py_ssize_t i = 0; i < c->keys_found.n; i++) c->key_n[c->keys_found.p[i]] = 0;
        return;
    }
    for (Py_ssize_t i = 0; i < c->hits.n; i++) {
        Hit h = c->hits.p[i];
        c->kocc.p[c->key_fill[h.k]++] = (KOcc){h.f, h.s, h.e};
    }
    c->kocc.n = at;
}

/* Which literals hold: those a found key triggers, settled (masks, gaps) unless plain. */
static void settle(Core *c) {
    c->lits_found.n = c->true_lits.n = 0;
    for (Py_ssize_t i = 0; i < c->keys_found.n; i++) {
        int32_t k = c->keys_found.p[i];
        for (int title = 0; title < 2; title++) {
            if (title && !c->key_title[k]) break;
            const int32_t *start = title ? c->tlit_start : c->klit_start;
            const int32_t *lits = title ? c->tlit : c->klit;
            for (int32_t j = start[k]; j < start[k + 1]; j++) {
                int32_t lit = lits[j];
                if (c->lit_stamp[lit] == c->stamp) continue;
                c->lit_stamp[lit] = c->stamp;
                c->lit_val[lit] = 0;
                PUSH(c, c->lits_found, lit);
            }
        }
    }
    for (Py_ssize_t i = 0; i < c->lits_found.n; i++) {
        int32_t lit = c->lits_found.p[i];
        c->lit_val[lit] = c->lit_plain[lit] || lit_holds(c, lit);
        if (c->lit_val[lit]) PUSH(c, c->true_lits, lit);
    }
}

static void mark(Core *c, const int32_t *rules, int32_t n) {
    for (int32_t i = 0; i < n; i++) c->cand[rules[i] >> 6] |= 1ull << (rules[i] & 63);
}

static PyObject *rule_terms(Core *c, int32_t rule) {
    PyObject *fixed = PyTuple_GET_ITEM(c->statics, rule);
    if (fixed != Py_None) {
        Py_INCREF(fixed);
        return fixed;
    }
    if (++c->name_stamp == 0) {
        memset(c->seen, 0, (size_t)c->n_terms * sizeof(uint32_t));
        c->name_stamp = 1;
    }
    c->names.n = 0;
    names(c, c->roots[rule]);
    if (c->failed) return NULL;
    PyObject *out = PyTuple_New(c->names.n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < c->names.n; i++) {
        PyObject *term = PyTuple_GET_ITEM(c->terms, c->names.p[i]);
        Py_INCREF(term);
        PyTuple_SET_ITEM(out, i, term);
    }
    return out;
}

static int source_ok(const Core *c, int32_t rule, int32_t outlet) {
    if (c->src_off[rule] < 0) return 1;
    const int32_t *s = c->src + c->src_off[rule];
    for (int32_t i = 0; i < s[0]; i++)
        if (s[1 + i] == outlet) return 1;
    return 0;
}

static void next_stamp(Core *c) {
    if (++c->stamp != 0) return;
    memset(c->key_stamp, 0, (size_t)c->n_keys * sizeof(uint32_t));
    memset(c->lit_stamp, 0, (size_t)c->n_lits * sizeof(uint32_t));
    memset(c->spot_stamp, 0, (size_t)c->n_lits * sizeof(uint32_t));
    memset(c->af_stamp, 0, (size_t)c->n_lits * sizeof(uint32_t));
    memset(c->nocc_stamp, 0, (size_t)c->n_nodes * sizeof(uint32_t));
    memset(c->ntest_stamp, 0, (size_t)c->n_nodes * sizeof(uint32_t));
    c->word_stamp[0] = c->word_stamp[1] = 0;
    c->stamp = 1;
}

static PyObject *core_match(Core *c, PyObject *args) {
    PyObject *fields[2];
    int outlet;
    if (!PyArg_ParseTuple(args, "UUi:match", &fields[0], &fields[1], &outlet)) return NULL;
    for (int f = 0; f < 2; f++) {
        if (READY(fields[f]) < 0) return NULL;
        if (PyUnicode_GET_LENGTH(fields[f]) >= MAX_TEXT) {
            PyErr_SetString(PyExc_ValueError, "text too long for the C core");
            return NULL;
        }
        c->kinds[f] = PyUnicode_KIND(fields[f]);
        c->datas[f] = PyUnicode_DATA(fields[f]);
        c->lens[f] = (int32_t)PyUnicode_GET_LENGTH(fields[f]);
    }
    if (outlet < 0 || outlet >= c->n_outlets) outlet = -1;
    c->outlet = outlet;
    next_stamp(c);
    c->failed = 0;
    c->hits.n = c->arena.n = c->pool.n = c->afpool.n = 0;
    scan(c, 0);
    scan(c, 1);
    if (c->cues != NULL) negate(c);
    index_keys(c);
    settle(c);
    memset(c->cand, 0, (size_t)c->n_words * sizeof(uint64_t));
    for (Py_ssize_t i = 0; i < c->true_lits.n; i++) {
        int32_t lit = c->true_lits.p[i];
        mark(c, c->lrule + c->lrule_start[lit], c->lrule_start[lit + 1] - c->lrule_start[lit]);
    }
    if (outlet >= 0)
        mark(c, c->orule + c->orule_start[outlet],
             c->orule_start[outlet + 1] - c->orule_start[outlet]);
    mark(c, c->always, c->n_always);
    PyObject *out = PyDict_New();
    if (out == NULL) return NULL;
    for (int32_t w = 0; w < c->n_words && !c->failed; w++) {
        for (uint64_t bits = c->cand[w]; bits; bits &= bits - 1) {
            int32_t rule = w * 64 + __builtin_ctzll(bits);
            if (!source_ok(c, rule, outlet) || !test(c, c->roots[rule])) continue;
            PyObject *terms = rule_terms(c, rule);
            if (terms == NULL || PyDict_SetItem(out, PyTuple_GET_ITEM(c->ids, rule), terms) < 0) {
                Py_XDECREF(terms);
                Py_DECREF(out);
                return c->failed ? PyErr_NoMemory() : NULL;
            }
            Py_DECREF(terms);
        }
    }
    if (c->failed) {
        Py_DECREF(out);
        return PyErr_NoMemory();
    }
    return out;
}

/* ---- building a core: copy, check every offset and id, index */

static int32_t *copy_ints(Py_buffer *b, int32_t *count, const char *what) {
    if (b->len % 4 || b->len / 4 >= INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "%s: not an int32 array", what);
        return NULL;
    }
    *count = (int32_t)(b->len / 4);
    int32_t *out = PyMem_Malloc(b->len ? (size_t)b->len : 4);
    if (out == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(out, b->buf, (size_t)b->len);
    return out;
}

static int bad(const char *what) {
    PyErr_Format(PyExc_ValueError, "malformed tables: %s", what);
    return -1;
}

static int check_lits(Core *c, int32_t n_data) {
    for (int32_t lit = 0; lit < c->n_lits; lit++) {
        int32_t off = c->lit_off[lit];
        if (off == -1) continue;
        if (off < 0 || off > n_data - 3) return bad("literal offset");
        const int32_t *p = c->lit_data + off, *end = c->lit_data + n_data;
        if ((p[0] != 0 && p[0] != 1) || p[1] < 0) return bad("literal header");
        int32_t nk = p[1];
        p += 2;
        for (int32_t i = 0; i < nk; i++) {
            if (end - p < 5 || p[3] < 0 || end - p < 5 + (int64_t)p[3]) return bad("literal entry");
            if (p[0] < 0 || p[0] >= c->n_keys || p[1] < 0 || p[1] >= c->n_terms || p[2] < 0)
                return bad("literal key");
            for (int32_t m = 0; m < p[3]; m++)
                if (p[4 + m] < 0 || p[4 + m] >= c->n_keys) return bad("literal mask");
            p = entry_next(p);
        }
        int32_t ng = *p++;
        if (ng < 0 || end - p < 3 * (int64_t)ng) return bad("literal gaps");
        for (int32_t g = 0; g < ng; g++, p += 3)
            if (p[0] < 0 || p[0] >= c->n_keys || p[1] < 0 || p[1] >= c->n_keys || p[2] < 0
                    || p[2] >= c->n_terms)
                return bad("literal gap");
    }
    return 0;
}

/* Parses the node records in order (`starts` marks where each begins): kinds, sizes, ids,
   children before their parents, and trees at most MAX_DEPTH deep (the walks recurse). */
static int check_node_records(Core *c, int32_t n_words, uint8_t *starts, uint16_t *depth) {
    int32_t off = 0;
    while (off < n_words) {
        const int32_t *r = c->nodes + off;
        int32_t left = n_words - off, size, first, last;
        if (left < 3 || r[1] < 0 || r[1] >= c->n_nodes) return bad("node header");
        switch (r[0]) {
        case N_LEAF:
            size = first = last = 4;
            if (left < 4 || r[2] < 0 || r[2] >= c->n_lits || c->lit_off[r[2]] < 0
                    || r[3] < -1 || r[3] >= c->n_terms)
                return bad("leaf");
            break;
        case N_SOURCE:
            size = first = last = 3;
            if (r[2] < 0 || r[2] >= c->n_outlets) return bad("source");
            break;
        case N_NOT:
            size = last = 3;
            first = 2;
            break;
        case N_AND:
        case N_OR:
            if (r[2] < 1 || left - 3 < r[2]) return bad("group");
            size = last = 3 + r[2];
            first = 3;
            break;
        case N_NEAR:
            size = 5;
            first = 2;
            last = 4;
            if (left < 5 || r[4] < 0) return bad("near");
            break;
        default:
            return bad("node kind");
        }
        for (int32_t i = first; i < last; i++) {
            if (r[i] < 0 || r[i] >= off || !starts[r[i]]) return bad("node child");
            if (depth[r[i]] >= depth[off]) depth[off] = depth[r[i]] + 1;
        }
        if (depth[off] > MAX_DEPTH) return bad("node tree too deep");
        starts[off] = 1;
        off += size;
    }
    return 0;
}

static int check_nodes(Core *c, int32_t n_words, uint8_t *starts) {
    uint16_t *depth = PyMem_Calloc((size_t)n_words + 1, sizeof(uint16_t));
    if (depth == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    int rc = check_node_records(c, n_words, starts, depth);
    PyMem_Free(depth);
    return rc;
}

static int32_t *csr(int32_t n, const int32_t *of, const int32_t *items, int32_t count,
                    int32_t **start_out) {
    int32_t *start = PyMem_Calloc((size_t)n + 2, sizeof(int32_t));
    int32_t *out = PyMem_Malloc(((size_t)count + 1) * sizeof(int32_t));
    int32_t *fill = PyMem_Calloc((size_t)n + 1, sizeof(int32_t));
    if (!start || !out || !fill) {
        PyMem_Free(start);
        PyMem_Free(out);
        PyMem_Free(fill);
        PyErr_NoMemory();
        return NULL;
    }
    for (int32_t i = 0; i < count; i++) start[of[i] + 1]++;
    for (int32_t i = 0; i < n; i++) start[i + 1] += start[i];
    for (int32_t i = 0; i < count; i++) out[start[of[i]] + fill[of[i]]++] = items[i];
    PyMem_Free(fill);
    *start_out = start;
    return out;
}

/* key -> the literals it may make true; literal -> rules; outlet -> rules. */
static int build_indexes(Core *c, const uint8_t *starts, int32_t n_words, int32_t *trig,
                         int32_t n_trig) {
    IVec of = {0}, items = {0}, tof = {0}, titems = {0};
    uint8_t *used = PyMem_Calloc((size_t)c->n_lits + 1, 1);
    uint8_t *reach = PyMem_Calloc((size_t)n_words + 1, 1);
    int rc = -1;
    c->failed = 0;
    if (!used || !reach) {
        PyErr_NoMemory();
        goto done;
    }
    for (int32_t r = 0; r < c->n_rules; r++) reach[c->roots[r]] = 1;
    for (int32_t off = n_words - 1; off >= 0; off--) {
        if (!starts[off] || !reach[off]) continue;
        const int32_t *r = c->nodes + off;
        if (r[0] == N_LEAF) used[r[2]] = 1;
        else if (r[0] == N_NOT) reach[r[2]] = 1;
        else if (r[0] == N_NEAR) reach[r[2]] = reach[r[3]] = 1;
        else if (r[0] == N_AND || r[0] == N_OR)
            for (int32_t i = 0; i < r[2]; i++) reach[r[3 + i]] = 1;
    }
    for (int32_t lit = 0; lit < c->n_lits; lit++) {
        if (!used[lit]) continue;
        const int32_t *p = lit_rec(c, lit);
        int title = p[0];
        int32_t nk = p[1];
        int plain = 1;
        IVec *o = title ? &tof : &of, *it = title ? &titems : &items;
        p += 2;
        for (int32_t i = 0; i < nk; i++, p = entry_next(p)) {
            PUSH(c, *o, p[0]);
            PUSH(c, *it, lit);
            if (p[3]) plain = 0;
        }
        int32_t ng = *p++;
        for (int32_t g = 0; g < ng; g++, p += 3) {
            PUSH(c, *o, p[0]);
            PUSH(c, *it, lit);
            plain = 0;
        }
        c->lit_plain[lit] = (uint8_t)plain;
    }
    if (c->failed) {
        PyErr_NoMemory();
        goto done;
    }
    c->klit = csr(c->n_keys, of.p, items.p, (int32_t)of.n, &c->klit_start);
    if (c->klit == NULL) goto done;
    c->tlit = csr(c->n_keys, tof.p, titems.p, (int32_t)tof.n, &c->tlit_start);
    if (c->tlit == NULL) goto done;
    /* triggers: per rule n (-1: always), then literals or -2 - outlet */
    of.n = items.n = tof.n = titems.n = 0;
    IVec always = {0};
    int32_t at = 0;
    for (int32_t r = 0; r < c->n_rules; r++) {
        if (at >= n_trig) {
            bad("triggers");
            PyMem_Free(always.p);
            goto done;
        }
        int32_t n = trig[at++];
        if (n < -1 || n > n_trig - at) {
            bad("triggers");
            PyMem_Free(always.p);
            goto done;
        }
        if (n == -1) PUSH(c, always, r);
        for (int32_t i = 0; i < n; i++, at++) {
            int32_t t = trig[at];
            if (t >= 0 && t < c->n_lits && used[t]) {
                PUSH(c, of, t);
                PUSH(c, items, r);
            } else if (t <= -2 && -2 - (int64_t)t < c->n_outlets) {
                PUSH(c, tof, -2 - t);
                PUSH(c, titems, r);
            } else {
                bad("trigger");
                PyMem_Free(always.p);
                goto done;
            }
        }
    }
    c->always = always.p;
    c->n_always = (int32_t)always.n;
    if (c->failed || at != n_trig) {
        if (c->failed) PyErr_NoMemory();
        else bad("triggers length");
        goto done;
    }
    c->lrule = csr(c->n_lits, of.p, items.p, (int32_t)of.n, &c->lrule_start);
    if (c->lrule == NULL) goto done;
    c->orule = csr(c->n_outlets, tof.p, titems.p, (int32_t)tof.n, &c->orule_start);
    if (c->orule == NULL) goto done;
    rc = 0;
done:
    PyMem_Free(of.p);
    PyMem_Free(items.p);
    PyMem_Free(tof.p);
    PyMem_Free(titems.p);
    PyMem_Free(used);
    PyMem_Free(reach);
    return rc;
}

static int check_rules(Core *c, int32_t n_roots, const uint8_t *starts, int32_t n_words,
                       int32_t n_src) {
    if (n_roots != c->n_rules || PyTuple_GET_SIZE(c->ids) != c->n_rules
            || PyTuple_GET_SIZE(c->statics) != c->n_rules)
        return bad("rule counts");
    for (int32_t r = 0; r < c->n_rules; r++) {
        if (c->roots[r] < 0 || c->roots[r] >= n_words || !starts[c->roots[r]]) return bad("root");
        PyObject *fixed = PyTuple_GET_ITEM(c->statics, r);
        if (!PyUnicode_Check(PyTuple_GET_ITEM(c->ids, r))
                || (fixed != Py_None && !PyTuple_Check(fixed)))
            return bad("rule ids or names");
    }
    c->src_off = PyMem_Malloc(((size_t)c->n_rules + 1) * sizeof(int32_t));
    if (c->src_off == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (int32_t r = 0; r < c->n_rules; r++) c->src_off[r] = -1;
    for (int32_t at = 0; at < n_src;) { /* rule, n, n outlet ids */
        if (n_src - at < 2) return bad("sources");
        int32_t r = c->src[at], n = c->src[at + 1];
        if (r < 0 || r >= c->n_rules || c->src_off[r] >= 0 || n < 1 || n > n_src - at - 2)
            return bad("sources");
        c->src_off[r] = at + 1;
        for (int32_t i = 0; i < n; i++)
            if (c->src[at + 2 + i] < 0 || c->src[at + 2 + i] >= c->n_outlets) return bad("source");
        at += 2 + n;
    }
    return 0;
}

static int core_alloc_scratch(Core *c) {
#define ZALLOC(x, n) if ((c->x = PyMem_Calloc((size_t)(n) + 1, sizeof *c->x)) == NULL) goto oom;
    ZALLOC(lit_plain, c->n_lits)
    ZALLOC(key_stamp, c->n_keys)
    ZALLOC(key_first, c->n_keys)
    ZALLOC(key_n, c->n_keys)
    ZALLOC(key_fill, c->n_keys)
    ZALLOC(key_title, c->n_keys)
    ZALLOC(lit_stamp, c->n_lits)
    ZALLOC(lit_val, c->n_lits)
    ZALLOC(spot_stamp, c->n_lits)
    ZALLOC(spots, c->n_lits)
    ZALLOC(af_stamp, c->n_lits)
    ZALLOC(afs, c->n_lits)
    ZALLOC(nocc_stamp, c->n_nodes)
    ZALLOC(noccs, c->n_nodes)
    ZALLOC(ntest_stamp, c->n_nodes)
    ZALLOC(ntest_val, c->n_nodes)
    ZALLOC(seen, c->n_terms)
    ZALLOC(near_seen, c->n_terms)
    ZALLOC(cand, c->n_words)
#undef ZALLOC
    return 0;
oom:
    PyErr_NoMemory();
    return -1;
}

static int core_init(Core *c, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"automaton", "latin", "lit_offsets", "lit_data", "nodes",
                             "node_count", "terms", "roots", "triggers", "sources", "ids",
                             "statics", "outlet_count", "gap_chars", "gap_words", "cues",
                             "neg_chars", "neg_words", NULL};
    PyObject *ac, *terms, *ids, *statics;
    Py_buffer latin, lit_off, lit_data, nodes, roots, trig, src, cues = {0};
    int node_count, outlets, gap_chars, gap_words, neg_chars = 0, neg_words = 0, rc = -1;
    if (c->ready || c->ac != NULL || c->latin != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Core.__init__ runs once");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!y*y*y*y*iO!y*y*y*O!O!iii|y*ii:Core", kwlist,
                                     &AutomatonType, &ac, &latin, &lit_off, &lit_data, &nodes,
                                     &node_count, &PyTuple_Type, &terms, &roots, &trig, &src,
                                     &PyTuple_Type, &ids, &PyTuple_Type, &statics, &outlets,
                                     &gap_chars, &gap_words, &cues, &neg_chars, &neg_words))
        return -1;
    int32_t n_data = 0, n_words = 0, n_roots = 0, n_trig = 0, n_src = 0;
    int32_t *trig_ints = NULL;
    uint8_t *starts = NULL;
    Py_INCREF(ac);
    Py_INCREF(terms);
    Py_INCREF(ids);
    Py_INCREF(statics);
    c->ac = (Automaton *)ac;
    c->terms = terms;
    c->ids = ids;
    c->statics = statics;
    if (c->ac->start == NULL) {
        PyErr_SetString(PyExc_ValueError, "the automaton is not built");
        goto done;
    }
    if (latin.len >= INT32_MAX || PyTuple_GET_SIZE(terms) >= INT32_MAX || node_count < 0
            || outlets < 0 || gap_chars < 0 || gap_words < 0
            || PyTuple_GET_SIZE(ids) >= INT32_MAX / 2) {
        bad("sizes");
        goto done;
    }
    c->n_keys = (int32_t)latin.len;
    c->n_terms = (int32_t)PyTuple_GET_SIZE(terms);
    c->n_nodes = node_count;
    c->n_outlets = outlets;
    c->n_rules = (int32_t)PyTuple_GET_SIZE(ids);
    c->n_words = (c->n_rules + 63) / 64;
    c->gap_chars = gap_chars;
    c->gap_words = gap_words;
    for (Py_ssize_t i = 0; i < c->n_terms; i++)
        if (!PyUnicode_Check(PyTuple_GET_ITEM(terms, i))) {
            bad("terms");
            goto done;
        }
    if (c->ac->key_limit > c->n_keys) {
        bad("automaton keys");
        goto done;
    }
    c->latin = PyMem_Malloc((size_t)c->n_keys + 1);
    if (c->latin == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(c->latin, latin.buf, (size_t)c->n_keys);
    if (cues.buf != NULL && cues.len > 0) { /* one cue kind per key */
        if (cues.len != latin.len || neg_chars < 0 || neg_words < 0) {
            bad("cues");
            goto done;
        }
        c->cues = PyMem_Malloc((size_t)c->n_keys + 1);
        if (c->cues == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        memcpy(c->cues, cues.buf, (size_t)c->n_keys);
        for (int32_t k = 0; k < c->n_keys; k++)
            if (c->cues[k] > CUE_KEEP) {
                bad("cue kind");
                goto done;
            }
        c->neg_chars = neg_chars;
        c->neg_words = neg_words;
    }
    if (!(c->lit_off = copy_ints(&lit_off, &c->n_lits, "lit_offsets"))
            || !(c->lit_data = copy_ints(&lit_data, &n_data, "lit_data"))
            || !(c->nodes = copy_ints(&nodes, &n_words, "nodes"))
            || !(c->roots = copy_ints(&roots, &n_roots, "roots"))
            || !(trig_ints = copy_ints(&trig, &n_trig, "triggers"))
            || !(c->src = copy_ints(&src, &n_src, "sources")))
        goto done;
    starts = PyMem_Calloc((size_t)n_words + 1, 1);
    if (starts == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (check_lits(c, n_data) < 0 || check_nodes(c, n_words, starts) < 0
            || check_rules(c, n_roots, starts, n_words, n_src) < 0
            || core_alloc_scratch(c) < 0
            || build_indexes(c, starts, n_words, trig_ints, n_trig) < 0)
        goto done;
    rc = 0;
    c->ready = 1;
done:
    PyMem_Free(trig_ints);
    PyMem_Free(starts);
    PyBuffer_Release(&latin);
    PyBuffer_Release(&lit_off);
    PyBuffer_Release(&lit_data);
    PyBuffer_Release(&nodes);
    PyBuffer_Release(&roots);
    PyBuffer_Release(&trig);
    PyBuffer_Release(&src);
    if (cues.buf != NULL) PyBuffer_Release(&cues);
    return rc; /* on failure the core stays not ready: match() refuses it */
}

static PyObject *core_match_checked(Core *c, PyObject *args) {
    if (!c->ready) {
        PyErr_SetString(PyExc_RuntimeError, "Core is not built");
        return NULL;
    }
    if (c->busy) { /* e.g. a finalizer run by a collection inside match() calling it again */
        PyErr_SetString(PyExc_RuntimeError, "Core.match is not reentrant");
        return NULL;
    }
    c->busy = 1;
    PyObject *out = core_match(c, args);
    c->busy = 0;
    return out;
}

static PyMethodDef core_methods[] = {
    {"match", (PyCFunction)core_match_checked, METH_VARARGS,
     "match(title, text, outlet id) -> {rule id: terms}: the folded fields of one article."},
    {NULL}
};

static PyMemberDef core_members[] = {
    {"automaton", T_OBJECT, offsetof(Core, ac), READONLY, "the Automaton the core runs"},
    {NULL}
};

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bot.rules._cmatch.Core",
    .tp_doc = "One rule set's tables; match() runs one article (see bot.rules.native).",
    .tp_basicsize = sizeof(Core),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)core_init,
    .tp_dealloc = (destructor)core_dealloc,
    .tp_methods = core_methods,
    .tp_members = core_members,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "bot.rules._cmatch",
    "The per-article hot path of bot.rules.engine (see bot.rules.native).", -1, NULL,
};

PyMODINIT_FUNC PyInit__cmatch(void) {
    for (Py_UCS4 ch = 0; ch < 0x10000; ch++) alnum_bmp[ch] = (uint8_t)Py_UNICODE_ISALNUM(ch);
    if (PyType_Ready(&AutomatonType) < 0 || PyType_Ready(&CoreType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&AutomatonType);
    Py_INCREF(&CoreType);
    if (PyModule_AddObject(m, "Automaton", (PyObject *)&AutomatonType) < 0
            || PyModule_AddObject(m, "Core", (PyObject *)&CoreType) < 0) {
        Py_DECREF(&AutomatonType);
        Py_DECREF(&CoreType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
