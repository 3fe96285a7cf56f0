/* Reading an item's text through tables of characters, for classify/textmap.py: `prepare`, and
 * the character classes asked of every name and phrase (`CharSearch`).
 *
 * Why by hand: before any name is looked for, preparing an item took a sixth of classifying
 * it, in passes over the whole text that each made a new object or ran a pattern: NFD, an
 * ASCII encode and a byte translation to fold it (`_flatten`), and NFC's own check and
 * vntext.normalize's patterns to find what it would change. Here each is one pass with one
 * table lookup per character. textmap builds the tables from those same steps, and the Python
 * stays the reference: a text these functions cannot answer for is prepared in Python as it
 * always was, and the tests check both agree (tests/test_classify_native_c.py).
 * `find` stands in for a pattern of one character class (textmap.CharSearch), asked of every
 * name and phrase: `re` runs its matcher at each character.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* A str's characters, ready to read: before Python 3.12 a string built by the legacy C API may
 * not be yet. 0, or -1 with the error set. */
static int
ready(PyObject *text)
{
#if PY_VERSION_HEX < 0x030C0000
    return PyUnicode_READY(text);
#else
    (void)text;
    return 0;
#endif
}

/* The arguments fold and plain take, (text: str, table: bytes), read; 0, or -1 and the error. */
typedef struct {
    const void *data;
    int kind;
    Py_ssize_t len;
    const unsigned char *table;
    Py_UCS4 size;
} Args;

static int
read_args(const char *usage, PyObject *const *args, Py_ssize_t nargs, Args *out)
{
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyBytes_Check(args[1])) {
        PyErr_Format(PyExc_TypeError, "%s(text: str, table: bytes)", usage);
        return -1;
    }
    if (ready(args[0]) < 0)
        return -1;
    out->data = PyUnicode_DATA(args[0]);
    out->kind = PyUnicode_KIND(args[0]);
    out->len = PyUnicode_GET_LENGTH(args[0]);
    out->table = (const unsigned char *)PyBytes_AS_STRING(args[1]);
    out->size = (Py_UCS4)PyBytes_GET_SIZE(args[1]);
    return 0;
}

/* fold(text, table) -> str | None: each character c of text as table[ord(c)] (ASCII, where 0
 * means "not here"), or None when a character is beyond the table or not in it. */
static PyObject *
fold(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Args a;
    if (read_args("fold", args, nargs, &a) < 0)
        return NULL;
    PyObject *out = PyUnicode_New(a.len, 127);
    if (out == NULL)
        return NULL;
    Py_UCS1 *dest = PyUnicode_1BYTE_DATA(out);
    for (Py_ssize_t i = 0; i < a.len; i++) {
        Py_UCS4 ch = PyUnicode_READ(a.kind, a.data, i);
        unsigned char folded = ch < a.size ? a.table[ch] : 0;
        if (folded == 0 || folded > 127) {
            Py_DECREF(out);
            Py_RETURN_NONE;
        }
        dest[i] = folded;
    }
    return out;
}

/* plain's flags: a character normalize replaces or removes, or one this test does not vouch
 * for as NFC (any beyond the table too); a "q" (or "Q"); for each of the clusters normalize
 * rewrites (at most three), its first vowel and its second, marked. */
enum { ODD = 1, Q = 2, FIRST = 4, SECOND = 32 };

static int
is_word(Py_UCS4 ch)
{
    return Py_UNICODE_ISALNUM(ch) || ch == '_';  /* as re reads \w */
}

/* plain(text, table) -> bool: whether vntext.normalize surely leaves `text` as it is: every
 * character one the table vouches for (NFC whatever stands around it, and not one normalize
 * replaces or removes), no space at either end, no two spaces, and no cluster whose mark it
 * moves (its first vowel, then its second marked, no "q" before them, no word character after:
 * what vntext.normalize's _TONE_PATTERN finds). False says only "look": Python answers. */
static PyObject *
plain(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Args a;
    if (read_args("plain", args, nargs, &a) < 0)
        return NULL;
    Py_ssize_t len = a.len;
    if (len > 0 && (Py_UNICODE_ISSPACE(PyUnicode_READ(a.kind, a.data, 0))
                    || Py_UNICODE_ISSPACE(PyUnicode_READ(a.kind, a.data, len - 1))))
        Py_RETURN_FALSE;
    unsigned char two_before = 0, before = 0;  /* the flags of the characters before */
    Py_UCS4 last = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_UCS4 ch = PyUnicode_READ(a.kind, a.data, i);
        unsigned char flags = ch < a.size ? a.table[ch] : ODD;
        if (flags & ODD || (ch == ' ' && last == ' '))
            Py_RETURN_FALSE;
        if ((flags / SECOND) & (before / FIRST) & 7 && !(two_before & Q)
                && (i + 1 == len || !is_word(PyUnicode_READ(a.kind, a.data, i + 1))))
            Py_RETURN_FALSE;
        two_before = before;
        before = flags;
        last = ch;
    }
    Py_RETURN_TRUE;
}

/* find(text, table, beyond, start, end) -> bool: whether text[start:end] holds a character c
 * with table[c] != 0 or, for c beyond the table, whether `beyond` is true: what `search` of a
 * pattern of one character class says, its bounds clamped as re clamps pos and endpos. */
static PyObject *
find(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5 || !PyUnicode_Check(args[0]) || !PyBytes_Check(args[1])
            || !PyBool_Check(args[2]) || !PyLong_Check(args[3]) || !PyLong_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError,
                        "find(text: str, table: bytes, beyond: bool, start: int, end: int)");
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[3]);
    if (start == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t end = PyLong_AsSsize_t(args[4]);
    if ((end == -1 && PyErr_Occurred()) || ready(args[0]) < 0)
        return NULL;
    const void *data = PyUnicode_DATA(args[0]);
    int kind = PyUnicode_KIND(args[0]);
    Py_ssize_t len = PyUnicode_GET_LENGTH(args[0]);
    const unsigned char *table = (const unsigned char *)PyBytes_AS_STRING(args[1]);
    Py_UCS4 size = (Py_UCS4)PyBytes_GET_SIZE(args[1]);
    int beyond = args[2] == Py_True;
    start = start < 0 ? 0 : start;
    end = end > len ? len : end;
    for (Py_ssize_t i = start; i < end; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch < size ? table[ch] != 0 : beyond)
            Py_RETURN_TRUE;
    }
    Py_RETURN_FALSE;
}

static PyMethodDef methods[] = {
    {"fold", (PyCFunction)(void (*)(void))fold, METH_FASTCALL,
     "fold(text, table): the text folded through the table, or None (classify/texttable.c)."},
    {"plain", (PyCFunction)(void (*)(void))plain, METH_FASTCALL,
     "plain(text, table): whether vntext.normalize surely leaves this text as it is."},
    {"find", (PyCFunction)(void (*)(void))find, METH_FASTCALL,
     "find(text, table, beyond, start, end): whether text[start:end] holds a character of "
     "the table's class."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_texttable",
    .m_doc = "Reading a text through tables of characters, in C (classify/texttable.c).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__texttable(void)
{
    return PyModule_Create(&module);
}
