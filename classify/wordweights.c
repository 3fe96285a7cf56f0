/* The topic model's words' logits (classify/topic_model.py, TopicModel.word_logits), in C.
 *
 * Why by hand: with the rest of the classifier compiled by mypyc, reading the model's words
 * was a fifth of classifying an item, nearly all of it Python's own work: a string made for
 * every word of the text (str.split), hashed and looked up, then a big-integer sum. The
 * vocabulary is a few hundred short ASCII words, so most words miss; this reads the text's
 * characters in place, hashes them as it goes and looks them up in a small open-addressing
 * table, and adds integer weights, with no Python object made per word. No library does this
 * (the automaton finds keys, but pays for every match as a Python tuple).
 *
 * The Python code it replaces stays the reference: it runs where no compiler ran and with
 * LOA_PURE_PYTHON=1, and tests/test_classify_topic_model.py checks that both give the same
 * floats (the sums are the same integers, divided once by the same unit). The semantics are
 * word_logits's exactly: words as str.split() finds them; each word of the model counted once,
 * its "said again" weight added once when it occurs twice; each title word counted once; then
 * the pairs the classifier's automaton found.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { WORD = 0, AGAIN = 1, TITLE = 2, PAIR = 3, KINDS = 4 };

typedef struct {
    Py_ssize_t key_start;    /* in keys */
    Py_ssize_t key_len;      /* code points */
    uint64_t hash;
    int has[KINDS];          /* whether the word is in the model's table of that kind */
    Py_ssize_t row[KINDS];   /* start of its weights in weights */
    uint32_t seen, again, titled;  /* stamps: equal to the table's call number when true */
} Entry;

typedef struct {
    PyObject_HEAD
    Py_ssize_t topics;
    long long unit;
    long long *start;        /* the biases, in units */
    long long *weights;      /* rows of `topics` weights, in units */
    Py_ssize_t nweights;
    Py_UCS4 *keys;
    Py_ssize_t nkeys;
    Entry *entries;
    Py_ssize_t nentries;
    Py_ssize_t *slots;       /* open addressing: entry index + 1, 0 when empty */
    size_t mask;
    Py_ssize_t longest;      /* the longest key, pairs aside: a longer word cannot match */
    uint32_t call;
} WordWeights;

static uint64_t
hash_step(uint64_t h, Py_UCS4 ch)
{
    return (h ^ (uint64_t)ch) * 1099511628211ULL;  /* FNV-1a over code points */
}

#define HASH_START 14695981039346656037ULL

static Entry *
lookup(WordWeights *self, uint64_t hash, int kind, const void *data, Py_ssize_t start,
       Py_ssize_t len)
{
    for (size_t at = (size_t)hash & self->mask;; at = (at + 1) & self->mask) {
        Py_ssize_t slot = self->slots[at];
        if (slot == 0)
            return NULL;
        Entry *e = &self->entries[slot - 1];
        if (e->hash != hash || e->key_len != len)
            continue;
        const Py_UCS4 *key = self->keys + e->key_start;
        Py_ssize_t i = 0;
        while (i < len && key[i] == PyUnicode_READ(kind, data, start + i))
            i++;
        if (i == len)
            return e;
    }
}

static void
add_row(WordWeights *self, long long *acc, Py_ssize_t row)
{
    const long long *w = self->weights + row;
    for (Py_ssize_t t = 0; t < self->topics; t++)
        acc[t] += w[t];
}

static void
visit_word(WordWeights *self, long long *acc, Entry *e)
{
    if (!e->has[WORD])
        return;
    if (e->seen != self->call) {
        e->seen = self->call;
        add_row(self, acc, e->row[WORD]);
    }
    else if (e->again != self->call && e->has[AGAIN]) {
        e->again = self->call;
        add_row(self, acc, e->row[AGAIN]);
    }
}

static void
visit_title(WordWeights *self, long long *acc, Entry *e)
{
    if (e != NULL && e->has[TITLE] && e->titled != self->call) {
        e->titled = self->call;
        add_row(self, acc, e->row[TITLE]);
    }
}

/* Each word of the text as str.split() finds them, and each of text[:title] as well, in one
 * pass (a word that runs past `title` is cut there, as slicing the text would cut it). Inlined
 * once per kind of string, so that reading a character is one load (`read_words`). */
static inline Py_ALWAYS_INLINE void
read_words_of_kind(WordWeights *self, int kind, const void *data, Py_ssize_t len,
                   Py_ssize_t title, long long *acc)
{
    Py_ssize_t i = 0;
    while (i < len) {
        while (i < len && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i)))
            i++;
        Py_ssize_t start = i;
        uint64_t h = HASH_START, cut = HASH_START;
        while (i < len) {
            Py_UCS4 ch = PyUnicode_READ(kind, data, i);
            if (Py_UNICODE_ISSPACE(ch))
                break;
            if (i == title)
                cut = h;
            h = hash_step(h, ch);
            i++;
        }
        if (i == start)
            break;
        Entry *e = i - start <= self->longest ? lookup(self, h, kind, data, start, i - start)
                                              : NULL;
        if (e != NULL)
            visit_word(self, acc, e);
        if (i <= title)
            visit_title(self, acc, e);
        else if (start < title && title - start <= self->longest)
            visit_title(self, acc, lookup(self, cut, kind, data, start, title - start));
    }
}

static void
read_words(WordWeights *self, PyObject *text, Py_ssize_t title, long long *acc)
{
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    switch (PyUnicode_KIND(text)) {
    case PyUnicode_1BYTE_KIND:
        read_words_of_kind(self, PyUnicode_1BYTE_KIND, data, len, title, acc);
        break;
    case PyUnicode_2BYTE_KIND:
        read_words_of_kind(self, PyUnicode_2BYTE_KIND, data, len, title, acc);
        break;
    default:
        read_words_of_kind(self, PyUnicode_4BYTE_KIND, data, len, title, acc);
    }
}

/* The entry of the whole of `key` (a str), or NULL; its hash in *hash. */
static Entry *
find_key(WordWeights *self, PyObject *key, uint64_t *hash)
{
    Py_ssize_t len = PyUnicode_GET_LENGTH(key);
    int kind = PyUnicode_KIND(key);
    const void *data = PyUnicode_DATA(key);
    uint64_t h = HASH_START;
    for (Py_ssize_t i = 0; i < len; i++)
        h = hash_step(h, PyUnicode_READ(kind, data, i));
    *hash = h;
    return lookup(self, h, kind, data, 0, len);
}

/* The entry of `key`, made when missing. */
static Entry *
entry_of(WordWeights *self, PyObject *key)
{
    uint64_t h;
    Entry *found = find_key(self, key, &h);
    if (found != NULL)
        return found;
    Py_ssize_t len = PyUnicode_GET_LENGTH(key);
    int kind = PyUnicode_KIND(key);
    const void *data = PyUnicode_DATA(key);
    Entry *e = &self->entries[self->nentries];
    memset(e, 0, sizeof(*e));
    e->key_start = self->nkeys;
    e->key_len = len;
    e->hash = h;
    for (Py_ssize_t i = 0; i < len; i++)
        self->keys[self->nkeys++] = PyUnicode_READ(kind, data, i);
    size_t at = (size_t)h & self->mask;
    while (self->slots[at] != 0)
        at = (at + 1) & self->mask;
    self->slots[at] = ++self->nentries;
    return e;
}

/* Fills `out` with `self->topics` integers from the sequence `seq`. */
static int
read_row(WordWeights *self, PyObject *seq, long long *out)
{
    PyObject *fast = PySequence_Fast(seq, "weights must be a sequence of integers");
    if (fast == NULL)
        return -1;
    if (PySequence_Fast_GET_SIZE(fast) != self->topics) {
        Py_DECREF(fast);
        PyErr_SetString(PyExc_ValueError, "a row of weights must have one weight per topic");
        return -1;
    }
    for (Py_ssize_t t = 0; t < self->topics; t++) {
        out[t] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(fast, t));
        if (out[t] == -1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
    }
    Py_DECREF(fast);
    return 0;
}

static void
WordWeights_dealloc(WordWeights *self)
{
    PyMem_Free(self->start);
    PyMem_Free(self->weights);
    PyMem_Free(self->keys);
    PyMem_Free(self->entries);
    PyMem_Free(self->slots);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* WordWeights(unit, start, (words, again, title, pairs)): `start` the biases and each table a
 * dict of key -> weights, all in units (integers, one per topic). */
static int
WordWeights_init(WordWeights *self, PyObject *args, PyObject *kwds)
{
    long long unit;
    PyObject *start, *tables;
    static char *kwlist[] = {"unit", "start", "tables", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "LOO!:WordWeights", kwlist, &unit, &start,
                                     &PyTuple_Type, &tables))
        return -1;
    if (self->entries != NULL) {
        PyErr_SetString(PyExc_TypeError, "WordWeights is initialised once");
        return -1;
    }
    if (PyTuple_GET_SIZE(tables) != KINDS || unit <= 0) {
        PyErr_SetString(PyExc_ValueError, "a positive unit and four tables are expected");
        return -1;
    }
    self->unit = unit;
    self->topics = PySequence_Size(start);
    if (self->topics <= 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "no topics");
        return -1;
    }
    Py_ssize_t rows = 0, chars = 0;
    for (int k = 0; k < KINDS; k++) {
        PyObject *table = PyTuple_GET_ITEM(tables, k), *key, *value;
        if (!PyDict_Check(table)) {
            PyErr_SetString(PyExc_TypeError, "each table must be a dict");
            return -1;
        }
        Py_ssize_t pos = 0;
        while (PyDict_Next(table, &pos, &key, &value)) {
            if (!PyUnicode_Check(key)) {
                PyErr_SetString(PyExc_TypeError, "keys must be strings");
                return -1;
            }
            chars += PyUnicode_GET_LENGTH(key);
        }
        rows += PyDict_GET_SIZE(table);
    }
    size_t size = 8;
    while (size < (size_t)rows * 4)
        size <<= 1;
    self->mask = size - 1;
    self->start = PyMem_Calloc((size_t)self->topics, sizeof(long long));
    self->weights = PyMem_Calloc((size_t)(rows * self->topics) + 1, sizeof(long long));
    self->keys = PyMem_Calloc((size_t)chars + 1, sizeof(Py_UCS4));
    self->entries = PyMem_Calloc((size_t)rows + 1, sizeof(Entry));
    self->slots = PyMem_Calloc(size, sizeof(Py_ssize_t));
    if (!self->start || !self->weights || !self->keys || !self->entries || !self->slots) {
        PyErr_NoMemory();
        return -1;
    }
    if (read_row(self, start, self->start) < 0)
        return -1;
    for (int k = 0; k < KINDS; k++) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(PyTuple_GET_ITEM(tables, k), &pos, &key, &value)) {
            /* (read_row may run Python code: a table changed since it was counted is refused) */
            if (!PyUnicode_Check(key) || self->nweights >= rows * self->topics
                    || self->nkeys + PyUnicode_GET_LENGTH(key) > chars) {
                PyErr_SetString(PyExc_RuntimeError, "the tables changed while they were read");
                return -1;
            }
            Entry *e = entry_of(self, key);
            e->has[k] = 1;
            e->row[k] = self->nweights;
            if (read_row(self, value, self->weights + self->nweights) < 0)
                return -1;
            self->nweights += self->topics;
            if (k != PAIR && e->key_len > self->longest)
                self->longest = e->key_len;
        }
    }
    return 0;
}

/* logits(folded, title_end, pairs) -> list of floats, as TopicModel.word_logits. */
static PyObject *
WordWeights_logits(WordWeights *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyUnicode_Check(args[0]) || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "logits(folded: str, title_end: int, pairs)");
        return NULL;
    }
    if (self->entries == NULL) {
        PyErr_SetString(PyExc_TypeError, "WordWeights is not initialised");
        return NULL;
    }
    PyObject *text = args[0];
    Py_ssize_t title_end = PyLong_AsSsize_t(args[1]);
    if (title_end == -1 && PyErr_Occurred())
        return NULL;
    long long acc[64];
    long long *sums = self->topics <= 64 ? acc : PyMem_Calloc((size_t)self->topics,
                                                               sizeof(long long));
    if (sums == NULL)
        return PyErr_NoMemory();
    memcpy(sums, self->start, (size_t)self->topics * sizeof(long long));
    if (++self->call == 0) {  /* the stamps wrapped round: forget them all */
        for (Py_ssize_t i = 0; i < self->nentries; i++)
            self->entries[i].seen = self->entries[i].again = self->entries[i].titled = 0;
        self->call = 1;
    }
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    /* folded[: title_end + 1], as slicing reads it */
    Py_ssize_t title = title_end + 1 < 0 ? (title_end + 1 + len < 0 ? 0 : title_end + 1 + len)
                       : (title_end + 1 > len ? len : title_end + 1);
    read_words(self, text, title, sums);
    PyObject *list = NULL, *iter = PyObject_GetIter(args[2]), *key;
    if (iter == NULL)
        goto done;
    while ((key = PyIter_Next(iter)) != NULL) {
        uint64_t h;
        Entry *e = PyUnicode_Check(key) ? find_key(self, key, &h) : NULL;
        if (e == NULL || !e->has[PAIR]) {
            PyErr_SetObject(PyExc_KeyError, key);
            Py_DECREF(key);
            goto done;
        }
        add_row(self, sums, e->row[PAIR]);
        Py_DECREF(key);
    }
    if (PyErr_Occurred())
        goto done;
    list = PyList_New(self->topics);
    if (list == NULL)
        goto done;
    for (Py_ssize_t t = 0; t < self->topics; t++) {
        /* as Python's int / int: both exact as doubles, one correctly rounded division */
        PyObject *f = PyFloat_FromDouble((double)sums[t] / (double)self->unit);
        if (f == NULL) {
            Py_CLEAR(list);
            goto done;
        }
        PyList_SET_ITEM(list, t, f);
    }
done:
    Py_XDECREF(iter);
    if (sums != acc)
        PyMem_Free(sums);
    return list;
}

static PyMethodDef WordWeights_methods[] = {
    {"logits", (PyCFunction)(void (*)(void))WordWeights_logits, METH_FASTCALL,
     "logits(folded, title_end, pairs): each topic's words logit (TopicModel.word_logits)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject WordWeightsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "classify._wordweights.WordWeights",
    .tp_basicsize = sizeof(WordWeights),
    .tp_dealloc = (destructor)WordWeights_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The topic model's word weights, read from a text without a Python object per "
              "word.",
    .tp_methods = WordWeights_methods,
    .tp_init = (initproc)WordWeights_init,
    .tp_new = PyType_GenericNew,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_wordweights",
    .m_doc = "The topic model's words' logits in C (classify/wordweights.c).",
    .m_size = -1,
    .m_methods = NULL,
};

PyMODINIT_FUNC
PyInit__wordweights(void)
{
    if (PyType_Ready(&WordWeightsType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&WordWeightsType);
    if (PyModule_AddObject(m, "WordWeights", (PyObject *)&WordWeightsType) < 0) {
        Py_DECREF(&WordWeightsType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
