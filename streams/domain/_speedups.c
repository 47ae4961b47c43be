/*
 * Compiled twins of dedup's hottest pure-Python steps (streams.domain.speedups).
 *
 * Optional: `pip install` builds this module when a C compiler is there and
 * skips it when not; the Python code is then used as is. Each function here
 * has a Python original, and tests/test_speedups.py holds the two equal on
 * every code point and on generated texts.
 *
 *   clean_words(text)       strip_noise_cut + clean_words for the common text:
 *                           Cyrillic, ASCII, whitespace, a few punctuation marks
 *                           and emojis. Anything else (links, tags, wrappers,
 *                           quotes, cut markers, other scripts) returns None and
 *                           the caller takes the Python path, which is exact.
 *   sign(texts, k, mul, a, b)
 *                           Signer.shingle_batch + Signer.signatures: the k-gram
 *                           hashes of each text and its MinHash signature.
 *   agreeing(sig, sigs, n)  indices of the signatures agreeing with sig in at
 *                           least n places (CandidateIndex.agreeing).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------ clean_words */

/* What a code point of the input is on the fast path. */
enum { C_OTHER = 0, C_SPACE, C_PICTO, C_KEEP };

/* Emojis and pictographs that normalize.py's _PICTO removes and NFKC leaves
 * alone. A subset of _PICTO: the rest (circled digits, which NFKC turns into
 * digits, and so on) take the Python path. */
static int is_picto(Py_UCS4 c)
{
    return (c >= 0x1F300 && c <= 0x1FAFF) || (c >= 0x2600 && c <= 0x2767) ||
           (c >= 0x2794 && c <= 0x27BF) || (c >= 0x2190 && c <= 0x21FF) ||
           (c >= 0x2B00 && c <= 0x2BFF) || (c >= 0xFE00 && c <= 0xFE0F) ||
           c == 0x200D || c == 0x20E3;
}

static int kind_of(Py_UCS4 c)
{
    if (c >= 0x20 && c < 0x7F) {
        /* Links, mentions, hashtags and VK markup: the Python path. */
        return (c == '[' || c == '@' || c == '#') ? C_OTHER : (c == ' ' ? C_SPACE : C_KEEP);
    }
    if (c == '\t' || c == '\n' || c == '\r')
        return C_SPACE;
    if ((c >= 0x0410 && c <= 0x044F) || c == 0x0401 || c == 0x0451)
        return C_KEEP; /* А-я, Ё, ё */
    if (c == 0x00AB || c == 0x00BB || c == 0x2013 || c == 0x2014)
        return C_KEEP; /* « » – — */
    if (is_picto(c))
        return C_PICTO;
    return C_OTHER;
}

static Py_UCS4 lower_of(Py_UCS4 c)
{
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    if (c >= 0x0410 && c <= 0x042F)
        return c + 32;
    if (c == 0x0401 || c == 0x0451)
        return 0x0435; /* Ё, ё -> е (clean_words folds ё) */
    return c;
}

static int is_latin(Py_UCS4 c) { return c >= 'a' && c <= 'z'; }
static int is_cyr(Py_UCS4 c) { return c >= 0x0430 && c <= 0x044F; }
static int is_word(Py_UCS4 c)
{
    return is_latin(c) || is_cyr(c) || (c >= '0' && c <= '9');
}

/* Does low[at:] start with the (lower-case) ASCII or Cyrillic string s? */
static int starts(const Py_UCS4 *low, Py_ssize_t n, Py_ssize_t at, const Py_UCS4 *s)
{
    Py_ssize_t i = 0;
    for (; s[i]; i++)
        if (at + i >= n || low[at + i] != s[i])
            return 0;
    return 1;
}

/* UCS-4 literals (C11 U"" strings). */
static const Py_UCS4 *DOMAINS[] = {U"ru", U"com", U"org", U"net", U"me", U"su",
                                   U"info", U"cc", U"ly", U"be", U"co", U"io",
                                   U"рф", NULL};
/* First words that _WRAPPERS may match (case-insensitive, as prefixes). */
static const Py_UCS4 *WRAPPER_STARTS[] = {
    U"подписчик", U"читател", U"жител", U"пиш", U"анонимно", U"из", U"предложка",
    U"репост", U"перепост", U"переслано", U"пересылаю", U"forwarded", U"цитата",
    U"вопрос", U"жалоба", U"обращение", NULL};

/* Latin letters that look Cyrillic (normalize.HOMOGLYPHS). */
static Py_UCS4 homoglyph(Py_UCS4 c)
{
    static const char from[] = "aeopcxykmtbh";
    static const Py_UCS4 to[] = {0x0430, 0x0435, 0x043E, 0x0440, 0x0441, 0x0445,
                                 0x0443, 0x043A, 0x043C, 0x0442, 0x0432, 0x043D};
    const char *at = c < 0x80 ? strchr(from, (int)c) : NULL;
    return (at && c) ? to[at - from] : c;
}

static int contains(const Py_UCS4 *s, Py_ssize_t from, Py_ssize_t to, const Py_UCS4 *needle)
{
    for (Py_ssize_t i = from < 0 ? 0 : from; i < to; i++)
        if (starts(s, to, i, needle))
            return 1;
    return 0;
}

/* A str of n code points, made in its narrowest kind at once (the fast path's
 * characters are all in the BMP). */
static PyObject *new_str(const Py_UCS4 *s, Py_ssize_t n)
{
    Py_UCS4 top = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        top = s[i] > top ? s[i] : top;
    PyObject *str = PyUnicode_New(n, top);
    if (!str)
        return NULL;
    if (top < 0x100) {
        Py_UCS1 *to = PyUnicode_1BYTE_DATA(str);
        for (Py_ssize_t i = 0; i < n; i++)
            to[i] = (Py_UCS1)s[i];
    } else {
        Py_UCS2 *to = PyUnicode_2BYTE_DATA(str);
        for (Py_ssize_t i = 0; i < n; i++)
            to[i] = (Py_UCS2)s[i];
    }
    return str;
}

static PyObject *clean_words(PyObject *self, PyObject *arg)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "clean_words() takes a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    /* "№" and "…" become two and three characters under NFKC. */
    Py_UCS4 *out = PyMem_Malloc(sizeof(Py_UCS4) * (3 * n + 1) * 2);
    if (!out)
        return PyErr_NoMemory();
    Py_UCS4 *low = out + 3 * n + 1;
    Py_ssize_t len = 0;
    int pending = 0;
    PyObject *result = NULL;

    /* NFKC, links test, pictographs to spaces, whitespace collapsed: strip_noise_cut
     * up to _strip_wrappers, on the texts the fast path takes. */
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        int k = kind_of(c);
        if (k == C_OTHER) {
            if (c == 0x2116) { /* № -> No */
                if (pending && len)
                    out[len++] = ' ';
                pending = 0;
                out[len++] = 'N';
                out[len++] = 'o';
                continue;
            }
            if (c == 0x2026) { /* … -> ... */
                if (pending && len)
                    out[len++] = ' ';
                pending = 0;
                out[len++] = '.';
                out[len++] = '.';
                out[len++] = '.';
                continue;
            }
            goto fallback;
        }
        if (k == C_SPACE || k == C_PICTO) {
            pending = 1;
            continue;
        }
        if (pending && len)
            out[len++] = ' ';
        pending = 0;
        out[len++] = c;
    }
    for (Py_ssize_t i = 0; i < len; i++)
        low[i] = lower_of(out[i]);

    /* What only the Python path handles: links, wrappers, quotes, cut markers. */
    for (Py_ssize_t i = 0; i < len; i++) {
        if (low[i] == ':' && starts(low, len, i, U"://"))
            goto fallback;
        if (low[i] == 'w' && starts(low, len, i, U"www."))
            goto fallback;
        if (low[i] == '.')
            for (const Py_UCS4 **d = DOMAINS; *d; d++)
                if (starts(low, len, i + 1, *d))
                    goto fallback;
    }
    for (const Py_UCS4 **w = WRAPPER_STARTS; *w; w++)
        if (starts(low, len, 0, *w))
            goto fallback;
    if (len && (out[0] == 0x00AB || out[0] == '"' || out[0] == '\''))
        goto fallback;
    if (len && (out[len - 1] == ')' || out[len - 1] == ':' || out[len - 1] == ']'))
        goto fallback;
    if (len >= 3 && out[len - 1] == '.' && out[len - 2] == '.' && out[len - 3] == '.')
        goto fallback;
    if (contains(low, len - 20, len, U"далее") || contains(low, len - 20, len, U"полностью"))
        goto fallback;
    int cut = contains(out, len - 40, len, U"...");

    /* clean_words: lower case, ё -> е, runs of letters and digits, look-alikes folded
     * inside words that mix Latin and Cyrillic letters. */
    int any_latin = 0;
    for (Py_ssize_t i = 0; i < len; i++)
        any_latin |= is_latin(low[i]);
    PyObject *words = PyList_New(0);
    if (!words)
        goto done;
    for (Py_ssize_t i = 0; i < len;) {
        if (!is_word(low[i])) {
            i++;
            continue;
        }
        Py_ssize_t j = i;
        int mixed = 0;
        while (j < len && is_word(low[j])) {
            if (j > i && ((is_latin(low[j]) && is_cyr(low[j - 1])) ||
                          (is_cyr(low[j]) && is_latin(low[j - 1]))))
                mixed = 1;
            j++;
        }
        if (any_latin && mixed)
            for (Py_ssize_t m = i; m < j; m++)
                low[m] = homoglyph(low[m]);
        PyObject *w = new_str(low + i, j - i);
        if (!w || PyList_Append(words, w) < 0) {
            Py_XDECREF(w);
            Py_DECREF(words);
            goto done;
        }
        Py_DECREF(w);
        i = j;
    }
    PyObject *clean = new_str(out, len);
    if (!clean) {
        Py_DECREF(words);
        goto done;
    }
    result = Py_BuildValue("(NON)", clean, cut ? Py_True : Py_False, words);
    goto done;

fallback:
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(out);
    return result;
}

/* ------------------------------------------------------------------- sign */

static inline uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    return h ^ (h >> 16);
}

/* The MinHash of one text: per permutation, the least (a * x + b) mod 2^32 over its
 * mixed k-gram hashes x. Built for AVX2 too where the compiler can, and picked at load
 * time by what the CPU has (eight lanes of 32-bit multiply and min). */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
static void minhash(uint32_t *sig, const uint32_t *a, const uint32_t *b, Py_ssize_t perms,
                    const uint32_t *mixed, Py_ssize_t ngrams)
{
    for (Py_ssize_t p = 0; p < perms; p++)
        sig[p] = UINT32_MAX;
    for (Py_ssize_t i = 0; i < ngrams; i++) {
        uint32_t x = mixed[i];
        for (Py_ssize_t p = 0; p < perms; p++) {
            uint32_t v = a[p] * x + b[p];
            sig[p] = v < sig[p] ? v : sig[p];
        }
    }
}

static int read_u32(PyObject *obj, Py_buffer *view, Py_ssize_t want, const char *what)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0)
        return -1;
    if (view->len != want * 4) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes, expected %zd", what, view->len, want * 4);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* sign(texts, k, mul, a, b) -> (list of bytes: k-gram hashes per text, bytearray:
 * MinHash values, len(texts) x num_perm uint32). */
static PyObject *sign(PyObject *self, PyObject *args)
{
    PyObject *texts, *mul_o, *a_o, *b_o;
    int k;
    if (!PyArg_ParseTuple(args, "O!iOOO", &PyList_Type, &texts, &k, &mul_o, &a_o, &b_o))
        return NULL;
    if (k < 1 || k > 16) {
        PyErr_SetString(PyExc_ValueError, "k out of range");
        return NULL;
    }
    Py_buffer mul_v, a_v, b_v;
    if (read_u32(mul_o, &mul_v, k, "mul") < 0)
        return NULL;
    if (PyObject_GetBuffer(a_o, &a_v, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&mul_v);
        return NULL;
    }
    Py_ssize_t perms = a_v.len / 4;
    if (read_u32(b_o, &b_v, perms, "b") < 0) {
        PyBuffer_Release(&mul_v);
        PyBuffer_Release(&a_v);
        return NULL;
    }
    const uint32_t *mul = mul_v.buf, *a = a_v.buf, *b = b_v.buf;
    Py_ssize_t count = PyList_GET_SIZE(texts);
    PyObject *grams_out = PyList_New(count);
    PyObject *sigs = PyByteArray_FromStringAndSize(NULL, count * perms * 4);
    PyObject *result = NULL;
    uint32_t *mixed = NULL;
    Py_ssize_t mixed_cap = 0;
    if (!grams_out || !sigs)
        goto done;
    uint32_t *sig_all = (uint32_t *)PyByteArray_AS_STRING(sigs);
    for (Py_ssize_t t = 0; t < count; t++) {
        PyObject *s = PyList_GET_ITEM(texts, t);
        if (!PyUnicode_Check(s)) {
            PyErr_SetString(PyExc_TypeError, "sign() takes a list of str");
            goto done;
        }
        Py_ssize_t n = PyUnicode_GET_LENGTH(s);
        int kind = PyUnicode_KIND(s);
        const void *data = PyUnicode_DATA(s);
        /* A text shorter than k is padded with \x01 to k characters: one gram. */
        Py_ssize_t padded = n < k ? k : n;
        Py_ssize_t ngrams = padded - k + 1;
        PyObject *g = PyBytes_FromStringAndSize(NULL, ngrams * 4);
        if (!g)
            goto done;
        PyList_SET_ITEM(grams_out, t, g);
        uint32_t *h = (uint32_t *)PyBytes_AS_STRING(g);
        if (ngrams > mixed_cap) {
            PyMem_Free(mixed);
            mixed_cap = ngrams * 2;
            mixed = PyMem_Malloc(sizeof(uint32_t) * mixed_cap);
            if (!mixed)
                goto nomem;
        }
        for (Py_ssize_t i = 0; i < ngrams; i++) {
            uint32_t v = 0;
            for (int j = 0; j < k; j++) {
                Py_ssize_t at = i + j;
                uint32_t cp = at < n ? (uint32_t)PyUnicode_READ(kind, data, at) : 1u;
                v = (v * 31u) ^ (cp * mul[j]);
            }
            h[i] = v;
            mixed[i] = fmix32(v);
        }
        minhash(sig_all + t * perms, a, b, perms, mixed, ngrams);
    }
    result = Py_BuildValue("(OO)", grams_out, sigs);
    goto done;
nomem:
    PyErr_NoMemory();
done:
    PyMem_Free(mixed);
    Py_XDECREF(grams_out);
    Py_XDECREF(sigs);
    PyBuffer_Release(&mul_v);
    PyBuffer_Release(&a_v);
    PyBuffer_Release(&b_v);
    return result;
}

/* --------------------------------------------------------------- agreeing */

/* agreeing(sig, sigs, at_least) -> indices i with sigs[i] equal to sig in at least
 * at_least of its uint32 places. */
static PyObject *agreeing(PyObject *self, PyObject *args)
{
    Py_buffer sig_v;
    PyObject *sigs;
    Py_ssize_t at_least;
    if (!PyArg_ParseTuple(args, "y*O!n", &sig_v, &PyList_Type, &sigs, &at_least))
        return NULL;
    PyObject *out = PyList_New(0);
    Py_ssize_t places = sig_v.len / 4;
    const uint32_t *sig = sig_v.buf;
    for (Py_ssize_t i = 0; out && i < PyList_GET_SIZE(sigs); i++) {
        PyObject *o = PyList_GET_ITEM(sigs, i);
        if (!PyBytes_Check(o) || PyBytes_GET_SIZE(o) != sig_v.len) {
            PyErr_SetString(PyExc_ValueError, "agreeing() takes signatures of one length");
            Py_CLEAR(out);
            break;
        }
        const uint32_t *other = (const uint32_t *)PyBytes_AS_STRING(o);
        Py_ssize_t same = 0;
        for (Py_ssize_t p = 0; p < places; p++)
            same += sig[p] == other[p];
        if (same >= at_least) {
            PyObject *idx = PyLong_FromSsize_t(i);
            if (!idx || PyList_Append(out, idx) < 0)
                Py_CLEAR(out);
            Py_XDECREF(idx);
        }
    }
    PyBuffer_Release(&sig_v);
    return out;
}

static PyMethodDef methods[] = {
    {"clean_words", clean_words, METH_O,
     "clean_words(text) -> (clean, cut, words) or None when the Python path must decide."},
    {"sign", sign, METH_VARARGS,
     "sign(texts, k, mul, a, b) -> (k-gram hashes per text, MinHash values)."},
    {"agreeing", agreeing, METH_VARARGS,
     "agreeing(sig, sigs, at_least) -> indices of signatures agreeing in at_least places."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_speedups",
    "Compiled twins of dedup's hottest steps; see streams/domain/speedups.py.", -1, methods,
};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
