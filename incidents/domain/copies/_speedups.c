/*
 * Compiled twins of dedup's hottest pure-Python steps (incidents.domain.copies.speedups).
 *
 * Optional: `pip install` builds this module when a C compiler is there and
 * skips it when not; the Python code is then used as is. Each function here
 * has a Python original, and tests/domain/copies/test_speedups.py holds the two equal on
 * every code point and on generated texts.
 *
 *   clean_words(text)       strip_noise_cut + clean_words for the common text:
 *                           Cyrillic, ASCII, whitespace, a few punctuation marks
 *                           and emojis. Links, @mentions, VK markup and other
 *                           scripts return None and the caller takes the Python
 *                           path, which is exact. A text that may hold a wrapper,
 *                           a quoted post or a cut marker comes back as
 *                           (text so far, False, None): the caller strips those
 *                           in Python and splits the rest with words().
 *   words(text)             clean_words of a text made of the fast path's
 *                           characters; None for any other text.
 *   sign(texts, k, mul, a, b)
 *                           Signer.shingle_batch + Signer.signatures: the k-gram
 *                           hashes of each text and its MinHash signature.
 *   overlap(a, b), overlap_text(a, text, k, mul)
 *                           shared and distinct k-grams of two texts (similarity).
 *   matching_blocks(a, b)   difflib's matching blocks of two word lists.
 *   BandTable               one region's LSH band tables, with its posts' names
 *                           and signatures (CandidateIndex).
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
        /* @mentions: the Python path. Hashtags and VK markup ('[') are looked at below. */
        return c == '@' ? C_OTHER : (c == ' ' ? C_SPACE : C_KEEP);
    }
    if (c == '\t' || c == '\n' || c == '\r')
        return C_SPACE;
    if ((c >= 0x0410 && c <= 0x044F) || c == 0x0401 || c == 0x0451)
        return C_KEEP; /* А-я, Ё, ё */
    if (c == 0x00AB || c == 0x00BB || c == 0x2013 || c == 0x2014 || c == 0x2212 ||
        c == 0x00B0 || (c >= 0x2018 && c <= 0x2019) || (c >= 0x201C && c <= 0x201E))
        return C_KEEP; /* « » – — − ° ‘ ’ “ ” „ */
    if (c == 0x00A0)
        return C_SPACE; /* a no-break space: NFKC makes it a space */
    if (c == 0xFFFC)
        return C_KEEP; /* an image left in a pasted text: no word character */
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
/* Python's \w among the characters the fast path keeps. */
static int is_w(Py_UCS4 c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || (c >= 0x0410 && c <= 0x044F) || c == 0x0401 || c == 0x0451;
}
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

/* new_str of a word with a Cyrillic letter in it: two bytes a character at once. */
static PyObject *new_str2(const Py_UCS4 *s, Py_ssize_t n)
{
    PyObject *str = PyUnicode_New(n, 0xFFFF);
    if (!str)
        return NULL;
    Py_UCS2 *to = PyUnicode_2BYTE_DATA(str);
    for (Py_ssize_t i = 0; i < n; i++)
        to[i] = (Py_UCS2)s[i];
    return str;
}

/* clean_words on low[0:len], the lower-cased text (changed in place): ё -> е, runs
 * of letters and digits, look-alikes folded inside words that mix Latin and
 * Cyrillic letters. A new list of str, or NULL with an exception set. */
static PyObject *split_words(Py_UCS4 *low, Py_ssize_t len)
{
    PyObject *words = PyList_New(0);
    if (!words)
        return NULL;
    for (Py_ssize_t i = 0; i < len;) {
        if (!is_word(low[i])) {
            i++;
            continue;
        }
        Py_ssize_t j = i + 1;
        int latin = is_latin(low[i]), cyr = !latin && is_cyr(low[i]);
        while (j < len && is_word(low[j])) {
            latin |= is_latin(low[j]);
            cyr |= is_cyr(low[j]);
            j++;
        }
        /* Mixed: a Latin letter next to a Cyrillic one (normalize._MIXED_HINT); a word
         * with both kinds apart ("a5б") is not, so the pairs are looked at. */
        int mixed = 0;
        if (latin && cyr)
            for (Py_ssize_t m = i + 1; m < j && !mixed; m++)
                mixed = (is_latin(low[m]) && is_cyr(low[m - 1])) ||
                        (is_cyr(low[m]) && is_latin(low[m - 1]));
        if (mixed)
            for (Py_ssize_t m = i; m < j; m++)
                low[m] = homoglyph(low[m]);
        PyObject *w = mixed || !cyr ? new_str(low + i, j - i) : new_str2(low + i, j - i);
        if (!w || PyList_Append(words, w) < 0) {
            Py_XDECREF(w);
            Py_DECREF(words);
            return NULL;
        }
        Py_DECREF(w);
        i = j;
    }
    return words;
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
     * up to _strip_wrappers, on the texts the fast path takes. out gets the text, low
     * its lower case. */
#define EMIT(ch)                                                                           \
    do {                                                                                   \
        Py_UCS4 e_ = (ch);                                                                 \
        out[len] = e_;                                                                     \
        low[len++] = lower_of(e_);                                                         \
    } while (0)
#define NOISE_LOOP(T)                                                                      \
    for (Py_ssize_t i = 0; i < n; i++) {                                                   \
        Py_UCS4 c = ((const T *)data)[i];                                                  \
        /* The common characters first: Cyrillic letters, printable ASCII but @. */        \
        int common = (c >= 0x0410 && c <= 0x044F) || (c > 0x20 && c < 0x7F && c != '@');  \
        int k = common ? C_KEEP : kind_of(c);                                              \
        const Py_UCS4 *nfkc = NULL; /* what NFKC makes of c when not c itself */           \
        if (k == C_OTHER) {                                                                \
            if (c == 0x2116)                                                               \
                nfkc = U"No";                                                              \
            else if (c == 0x2026)                                                          \
                nfkc = U"...";                                                             \
            else                                                                           \
                goto fallback;                                                             \
        }                                                                                  \
        if (k == C_SPACE || k == C_PICTO) {                                                \
            pending = 1;                                                                   \
            continue;                                                                      \
        }                                                                                  \
        if (pending && len)                                                                \
            EMIT(' ');                                                                     \
        pending = 0;                                                                       \
        if (nfkc)                                                                          \
            while (*nfkc)                                                                  \
                EMIT(*nfkc++);                                                             \
        else                                                                               \
            EMIT(c);                                                                       \
    }
    if (kind == PyUnicode_1BYTE_KIND)
        NOISE_LOOP(Py_UCS1)
    else if (kind == PyUnicode_2BYTE_KIND)
        NOISE_LOOP(Py_UCS2)
    else
        NOISE_LOOP(Py_UCS4)
#undef NOISE_LOOP
#undef EMIT

    /* What only the Python path handles: links and VK markup, seen (as _strip_links
     * sees them) before hashtags are removed. */
    int hashes = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        if (low[i] > 'w')
            continue; /* Cyrillic and most letters: none of : w . [ # */
        if (low[i] == ':' && starts(low, len, i, U"://"))
            goto fallback;
        if (low[i] == 'w' && starts(low, len, i, U"www."))
            goto fallback;
        if (low[i] == '.')
            for (const Py_UCS4 **d = DOMAINS; *d; d++)
                if (starts(low, len, i + 1, *d))
                    goto fallback;
        if (low[i] == '[' && (starts(low, len, i + 1, U"id") || starts(low, len, i + 1, U"club") ||
                              starts(low, len, i + 1, U"public")))
            goto fallback;
        hashes |= out[i] == '#';
    }
    if (hashes) {
        /* Hashtags, (?<!\w)#\w+, become a space (then spaces collapse again); written
         * to low, since the lookbehind reads the text as it was. */
        Py_ssize_t to = 0;
        int gap = 0;
        for (Py_ssize_t i = 0; i < len; i++) {
            Py_UCS4 c = out[i];
            if (c == '#' && (i == 0 || !is_w(out[i - 1])) && i + 1 < len && is_w(out[i + 1])) {
                for (i++; i + 1 < len && is_w(out[i + 1]); i++)
                    ;
                gap = 1;
                continue;
            }
            if (c == ' ') {
                gap = 1;
                continue;
            }
            if (gap && to)
                low[to++] = ' ';
            gap = 0;
            low[to++] = c;
        }
        memcpy(out, low, sizeof(Py_UCS4) * to);
        len = to;
        for (Py_ssize_t i = 0; i < len; i++)
            low[i] = lower_of(out[i]);
    }
    /* Wrappers, quotes and cut markers: handed to the Python code (_strip_wrappers). */
    PyObject *clean;
    for (const Py_UCS4 **w = WRAPPER_STARTS; *w; w++)
        if (starts(low, len, 0, *w))
            goto handoff;
    if (len && (out[0] == 0x00AB || out[0] == 0x201C || out[0] == 0x201E || out[0] == '"' ||
                out[0] == '\''))
        goto handoff;
    if (len && (out[len - 1] == ')' || out[len - 1] == ':' || out[len - 1] == ']'))
        goto handoff;
    if (len >= 3 && out[len - 1] == '.' && out[len - 2] == '.' && out[len - 3] == '.')
        goto handoff;
    if (contains(low, len - 20, len, U"далее") || contains(low, len - 20, len, U"полностью"))
        goto handoff;
    int cut = contains(out, len - 40, len, U"...");

    clean = new_str(out, len);
    if (!clean)
        goto done;
    PyObject *split = split_words(low, len);
    if (!split) {
        Py_DECREF(clean);
        goto done;
    }
    result = Py_BuildValue("(NON)", clean, cut ? Py_True : Py_False, split);
    goto done;

handoff:
    clean = new_str(out, len);
    if (clean)
        result = Py_BuildValue("(NOO)", clean, Py_False, Py_None);
    goto done;
fallback:
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(out);
    return result;
}

/* words(text): clean_words of a text the fast path could have made (what clean_words
 * hands off, once the Python code has stripped its wrapper); None for any other. */
static PyObject *words(PyObject *self, PyObject *arg)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "words() takes a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    Py_UCS4 *low = PyMem_Malloc(sizeof(Py_UCS4) * (n + 1));
    if (!low)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (kind_of(c) != C_KEEP && kind_of(c) != C_SPACE) {
            PyMem_Free(low);
            Py_RETURN_NONE;
        }
        low[i] = lower_of(c);
    }
    PyObject *result = split_words(low, n);
    PyMem_Free(low);
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

/* How many k-grams grams_of() gives for the str s: a text shorter than k is padded
 * with \x01 to k characters, one gram. */
static Py_ssize_t ngrams_of(PyObject *s, int k)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    return (n < k ? k : n) - k + 1;
}

/* The hash of every run of k code points of s (Signer._grams): h gets ngrams_of(s, k)
 * values. */
/* One pass per position in the gram, over all grams (as Signer._grams does with
 * numpy): the passes vectorise, where one gram at a time is a chain of multiplies. */
#define GRAMS_OF(T)                                                                        \
    do {                                                                                   \
        const T *cp = (const T *)data;                                                     \
        for (int j = 0; j < k; j++) {                                                      \
            uint32_t m = mul[j];                                                           \
            for (Py_ssize_t i = 0; i < whole; i++)                                         \
                h[i] = (h[i] * 31u) ^ ((uint32_t)cp[i + j] * m);                           \
        }                                                                                  \
    } while (0)

static void grams_of(PyObject *s, int k, const uint32_t *mul, uint32_t *h)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    Py_ssize_t whole = n >= k ? n - k + 1 : 0; /* grams inside the text */
    memset(h, 0, (size_t)whole * sizeof(uint32_t));
    if (kind == PyUnicode_1BYTE_KIND)
        GRAMS_OF(Py_UCS1);
    else if (kind == PyUnicode_2BYTE_KIND)
        GRAMS_OF(Py_UCS2);
    else
        GRAMS_OF(Py_UCS4);
    if (!whole) { /* shorter than k: the one gram of the text padded with \x01 */
        uint32_t v = 0;
        for (int j = 0; j < k; j++) {
            uint32_t cp = j < n ? (uint32_t)PyUnicode_READ(kind, data, j) : 1u;
            v = (v * 31u) ^ (cp * mul[j]);
        }
        h[0] = v;
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
        Py_ssize_t ngrams = ngrams_of(s, k);
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
        grams_of(s, k, mul, h);
        for (Py_ssize_t i = 0; i < ngrams; i++)
            mixed[i] = fmix32(h[i]);
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

/* ------------------------------------------------------------------ overlap */

/* An open-addressing set of uint32 values, for counting distinct values. */
#define U32SET_LOCAL 2048 /* slots kept on the stack: two texts of ~500 k-grams */

typedef struct {
    uint32_t *keys;
    uint8_t *used; /* 0: empty; else the marks of the value held */
    size_t mask;
    uint32_t local_keys[U32SET_LOCAL];
    uint8_t local_used[U32SET_LOCAL];
} U32Set;

static int u32set_init(U32Set *t, Py_ssize_t n)
{
    size_t size = 16;
    while (size < (size_t)n * 2)
        size <<= 1;
    if (size <= U32SET_LOCAL) {
        t->keys = t->local_keys;
        t->used = t->local_used;
        memset(t->used, 0, size);
    } else {
        t->keys = PyMem_Malloc(size * sizeof(uint32_t));
        t->used = PyMem_Calloc(size, 1);
    }
    t->mask = size - 1;
    return t->keys && t->used ? 0 : -1;
}

static void u32set_free(U32Set *t)
{
    if (t->keys != t->local_keys)
        PyMem_Free(t->keys);
    if (t->used != t->local_used)
        PyMem_Free(t->used);
}

/* Marks v with mark (1 or 2), adding it when new; returns its marks before. */
static uint8_t u32set_mark(U32Set *t, uint32_t v, uint8_t mark)
{
    size_t at = (v * 0x9E3779B1u) & t->mask;
    while (t->used[at]) {
        if (t->keys[at] == v) {
            uint8_t was = t->used[at];
            t->used[at] = was | mark;
            return was;
        }
        at = (at + 1) & t->mask;
    }
    t->used[at] = mark;
    t->keys[at] = v;
    return 0;
}

/* (shared, distinct in a, distinct in b) of two arrays of uint32 k-gram hashes (repeats
 * allowed): what similarity() computes with Python sets. One table for both: each
 * value marked with the arrays it is in. */
static PyObject *count_overlap(const uint32_t *a, Py_ssize_t na, const uint32_t *b, Py_ssize_t nb)
{
    Py_ssize_t ua = 0, ub = 0, shared = 0;
    U32Set set;
    if (u32set_init(&set, na + nb) < 0) {
        u32set_free(&set);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < na; i++)
        ua += u32set_mark(&set, a[i], 1) == 0;
    for (Py_ssize_t i = 0; i < nb; i++) {
        uint8_t was = u32set_mark(&set, b[i], 2);
        if (!(was & 2)) {
            ub++;
            shared += was == 1;
        }
    }
    u32set_free(&set);
    return Py_BuildValue("(nnn)", shared, ua, ub);
}

/* overlap(a, b) -> (shared, distinct in a, distinct in b) for two buffers of uint32
 * k-gram hashes. */
static PyObject *overlap(PyObject *self, PyObject *args)
{
    Py_buffer a_v, b_v;
    if (!PyArg_ParseTuple(args, "y*y*", &a_v, &b_v))
        return NULL;
    PyObject *result = count_overlap(a_v.buf, a_v.len / 4, b_v.buf, b_v.len / 4);
    PyBuffer_Release(&a_v);
    PyBuffer_Release(&b_v);
    return result;
}

/* overlap_text(a, text, k, mul) -> overlap(a, the k-gram hashes of text): a candidate
 * is compared from its stored text, without its hashes made into a Python object. */
static PyObject *overlap_text(PyObject *self, PyObject *args)
{
    Py_buffer a_v, mul_v;
    PyObject *text, *mul_o, *result = NULL;
    int k;
    if (!PyArg_ParseTuple(args, "y*UiO", &a_v, &text, &k, &mul_o))
        return NULL;
    if (k < 1 || k > 16 || read_u32(mul_o, &mul_v, k, "mul") < 0) {
        if (k < 1 || k > 16)
            PyErr_SetString(PyExc_ValueError, "k out of range");
        PyBuffer_Release(&a_v);
        return NULL;
    }
    uint32_t local[512];
    Py_ssize_t nb = ngrams_of(text, k);
    uint32_t *b = nb <= 512 ? local : PyMem_Malloc(sizeof(uint32_t) * nb);
    if (!b) {
        PyErr_NoMemory();
    } else {
        grams_of(text, k, mul_v.buf, b);
        result = count_overlap(a_v.buf, a_v.len / 4, b, nb);
        if (b != local)
            PyMem_Free(b);
    }
    PyBuffer_Release(&a_v);
    PyBuffer_Release(&mul_v);
    return result;
}

/* ---------------------------------------------------------- overlap_records */

/* The length of the msgpack value at p (its header and body), or -1 when it is not one
 * of the kinds a record's leading fields use (str, float, int, nil). */
static Py_ssize_t mp_skip(const unsigned char *p, Py_ssize_t left)
{
    if (left < 1)
        return -1;
    unsigned char c = p[0];
    Py_ssize_t n;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
        return 1; /* fixint, negative fixint, nil, bool */
    if (c >= 0xa0 && c <= 0xbf)
        n = 1 + (c & 0x1f);
    else if (c == 0xd9 && left >= 2)
        n = 2 + p[1];
    else if (c == 0xda && left >= 3)
        n = 3 + ((Py_ssize_t)p[1] << 8 | p[2]);
    else if (c == 0xdb && left >= 5)
        n = 5 + ((Py_ssize_t)p[1] << 24 | (Py_ssize_t)p[2] << 16 | (Py_ssize_t)p[3] << 8 | p[4]);
    else if (c == 0xca || c == 0xce || c == 0xd2)
        n = 5;
    else if (c == 0xcb || c == 0xcf || c == 0xd3)
        n = 9;
    else if (c == 0xcc || c == 0xd0)
        n = 2;
    else if (c == 0xcd || c == 0xd1)
        n = 3;
    else
        return -1;
    return n <= left ? n : -1;
}

/* The body of the msgpack str at p: *s and *n, or -1. */
static int mp_str(const unsigned char *p, Py_ssize_t left, const unsigned char **s, Py_ssize_t *n)
{
    Py_ssize_t whole = mp_skip(p, left), head;
    if (whole < 0)
        return -1;
    if (p[0] >= 0xa0 && p[0] <= 0xbf)
        head = 1;
    else if (p[0] == 0xd9)
        head = 2;
    else if (p[0] == 0xda)
        head = 3;
    else if (p[0] == 0xdb)
        head = 5;
    else
        return -1;
    *s = p + head;
    *n = whole - head;
    return 0;
}

/* UTF-8 (valid, as msgspec writes it) to code points; returns how many, -1 if invalid.
 * out has room for n values (never more code points than bytes). */
static Py_ssize_t utf8_codepoints(const unsigned char *s, Py_ssize_t n, uint32_t *out)
{
    Py_ssize_t i = 0, k = 0;
    while (i < n) {
        uint32_t c = s[i];
        if (c < 0x80) { /* ASCII: spaces and digits */
            out[k++] = c;
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0 && i + 1 < n && (s[i + 1] & 0xc0) == 0x80) { /* Cyrillic */
            out[k++] = (c & 0x1f) << 6 | (s[i + 1] & 0x3f);
            i += 2;
            continue;
        }
        int more;
        if ((c & 0xf0) == 0xe0) {
            more = 2;
            c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            more = 3;
            c &= 0x07;
        } else {
            return -1;
        }
        if (i + more >= n)
            return -1;
        for (int j = 1; j <= more; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return -1;
            c = c << 6 | (s[i + j] & 0x3f);
        }
        out[k++] = c;
        i += more + 1;
    }
    return k;
}

/* grams_of() for code points already in a buffer. */
static void grams_of_codepoints(const uint32_t *cp, Py_ssize_t n, int k, const uint32_t *mul,
                                uint32_t *h)
{
    Py_ssize_t whole = n >= k ? n - k + 1 : 0;
    memset(h, 0, (size_t)whole * sizeof(uint32_t));
    for (int j = 0; j < k; j++) {
        uint32_t m = mul[j];
        for (Py_ssize_t i = 0; i < whole; i++)
            h[i] = (h[i] * 31u) ^ (cp[i + j] * m);
    }
    if (!whole) {
        uint32_t v = 0;
        for (int j = 0; j < k; j++)
            v = (v * 31u) ^ ((j < n ? cp[j] : 1u) * mul[j]);
        h[0] = v;
    }
}

/* The msgpack int at p (positive), or -1. */
static long long mp_uint(const unsigned char *p, Py_ssize_t left)
{
    if (left < 1)
        return -1;
    if (p[0] <= 0x7f)
        return p[0];
    if (p[0] == 0xcc && left >= 2)
        return p[1];
    if (p[0] == 0xcd && left >= 3)
        return (long long)p[1] << 8 | p[2];
    if (p[0] == 0xce && left >= 5)
        return (long long)p[1] << 24 | (long long)p[2] << 16 | (long long)p[3] << 8 | p[4];
    return -1;
}

/* The slot of a value of a already in the table the first time it is asked for in a
 * round (marked 2, so the caller can unmark it), or -1 (asked before, or absent). */
static Py_ssize_t u32set_first_hit(U32Set *t, uint32_t v)
{
    size_t at = (v * 0x9E3779B1u) & t->mask;
    while (t->used[at]) {
        if (t->keys[at] == v) {
            if (t->used[at] & 2)
                return -1;
            t->used[at] |= 2;
            return (Py_ssize_t)at;
        }
        at = (at + 1) & t->mask;
    }
    return -1;
}

/* screen_records(a, records, field, k, mul, gate) -> [(i, shared, distinct in a, distinct in
 * its text, its characters, its words)] for the records worth a full look, i their
 * position. A record is msgpack, an array whose item `field` is the normalized text (a
 * str; the items before it str, numbers or nil) and item field + 1 the count of its
 * distinct k-grams. gate = (post's words, min_words, least grams inside, post's k-grams,
 * threshold, least containment): a record is dropped when it is neither too short to
 * tell by its k-grams (fewer than min_words words on either side, or fewer than
 * `least grams inside` k-grams) nor close enough (Jaccard >= threshold, or the shorter
 * set has >= `least grams inside` k-grams and >= 0.4 of the longer's and >= `least
 * containment` of it in the longer): Deduplicator._screen, compiled. A record that is None or
 * laid out otherwise comes back as (i, -1, 0, 0, 0, 0): the caller decodes it. One call
 * for all the candidates of a post: no Python object made for their texts, and the post's
 * k-grams put in a table once. */
static PyObject *screen_records(PyObject *self, PyObject *args)
{
    Py_buffer a_v, mul_v;
    PyObject *records, *mul_o, *out = NULL;
    int field, k;
    Py_ssize_t post_words, min_words, min_inside, post_grams;
    double threshold, least;
    if (!PyArg_ParseTuple(args, "y*O!iiO(nnnndd)", &a_v, &PyList_Type, &records, &field, &k,
                          &mul_o, &post_words, &min_words, &min_inside, &post_grams, &threshold,
                          &least))
        return NULL;
    if (k < 1 || k > 16 || field < 0 || read_u32(mul_o, &mul_v, k, "mul") < 0) {
        if (k < 1 || k > 16 || field < 0)
            PyErr_SetString(PyExc_ValueError, "k or field out of range");
        PyBuffer_Release(&a_v);
        return NULL;
    }
    const uint32_t *a = a_v.buf;
    Py_ssize_t na = a_v.len / 4, ua = 0;
    U32Set set;
    if (u32set_init(&set, na) < 0) {
        u32set_free(&set);
        PyBuffer_Release(&a_v);
        PyBuffer_Release(&mul_v);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < na; i++)
        ua += u32set_mark(&set, a[i], 1) == 0;
    out = PyList_New(0);
    uint32_t local_cp[1024], local_h[1024];
    Py_ssize_t count = PyList_GET_SIZE(records);
    for (Py_ssize_t r = 0; out && r < count; r++) {
        PyObject *item = PyList_GET_ITEM(records, r), *row = NULL;
        Py_ssize_t shared = -1, ub = 0, n = 0, words = 0;
        int keep = 1;
        if (PyBytes_Check(item)) {
            const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(item), *s;
            Py_ssize_t left = PyBytes_GET_SIZE(item), len, at;
            int ok = left > 0 && ((p[0] & 0xf0) == 0x90 ? (p[0] & 0x0f) > field + 1
                                                        : p[0] == 0xdc && left >= 3 &&
                                                              ((p[1] << 8) | p[2]) > field + 1);
            at = left > 0 && (p[0] & 0xf0) == 0x90 ? 1 : 3;
            for (int f = 0; ok && f < field; f++) {
                Py_ssize_t skip = mp_skip(p + at, left - at);
                ok = skip > 0;
                at += skip;
            }
            if (ok && mp_str(p + at, left - at, &s, &len) == 0) {
                long long distinct = mp_uint(s + len, left - (s + len - p));
                uint32_t *cp = len <= 1024 ? local_cp : PyMem_Malloc(sizeof(uint32_t) * len);
                n = cp && distinct >= 0 ? utf8_codepoints(s, len, cp) : -1;
                Py_ssize_t grams = (n < k ? k : n) - k + 1;
                uint32_t *h = n < 0 ? NULL
                              : grams <= 1024 ? local_h
                                              : PyMem_Malloc(sizeof(uint32_t) * grams);
                if (n >= 0 && h) {
                    grams_of_codepoints(cp, n, k, mul_v.buf, h);
                    shared = 0;
                    for (Py_ssize_t i = 0; i < grams; i++) {
                        Py_ssize_t slot = u32set_first_hit(&set, h[i]);
                        if (slot >= 0)
                            h[shared++] = (uint32_t)slot; /* h[i] is read: room to note it */
                    }
                    for (Py_ssize_t i = 0; i < shared; i++) /* unmarked for the next record */
                        set.used[h[i]] &= 1;
                    ub = (Py_ssize_t)distinct;
                    for (Py_ssize_t i = 0; i < n; i++)
                        words += cp[i] == ' ';
                    words = n ? words + 1 - (cp[n - 1] == ' ') : 0;
                    /* The gate (the first test of _is_copy, on the counts alone). */
                    Py_ssize_t fewest = post_words < words ? post_words : words;
                    Py_ssize_t g = n - k + 1 < post_grams ? n - k + 1 : post_grams;
                    int too_short = fewest < min_words || g < min_inside;
                    Py_ssize_t shorter = ua <= ub ? ua : ub, longer = ua <= ub ? ub : ua;
                    double jac = 0.0, cont = 0.0;
                    if (shorter) {
                        jac = (double)shared / (double)(ua + ub - shared);
                        cont = (double)shared / (double)shorter;
                    }
                    int inside = shorter >= min_inside && (double)shorter >= 0.4 * (double)longer;
                    keep = too_short || jac >= threshold || (inside && cont >= least);
                } else if (n >= 0 && !h) {
                    PyErr_NoMemory();
                }
                if (h && h != local_h)
                    PyMem_Free(h);
                if (cp && cp != local_cp)
                    PyMem_Free(cp);
                if (PyErr_Occurred()) {
                    Py_CLEAR(out);
                    break;
                }
                if (shared < 0) /* not read: the caller decides */
                    ub = n = words = 0;
            }
        }
        if (!keep)
            continue;
        row = shared < 0 ? Py_BuildValue("(nnnnnn)", r, (Py_ssize_t)-1, (Py_ssize_t)0,
                                         (Py_ssize_t)0, (Py_ssize_t)0, (Py_ssize_t)0)
                         : Py_BuildValue("(nnnnnn)", r, shared, ua, ub, n, words);
        if (!row || PyList_Append(out, row) < 0) {
            Py_XDECREF(row);
            Py_CLEAR(out);
            break;
        }
        Py_DECREF(row);
    }
    u32set_free(&set);
    PyBuffer_Release(&a_v);
    PyBuffer_Release(&mul_v);
    return out;
}

/* -------------------------------------------------------- matching_blocks */

typedef struct {
    Py_ssize_t i, j, k;
} Block;

static int block_order(const void *x, const void *y)
{
    const Block *a = x, *b = y;
    if (a->i != b->i)
        return a->i < b->i ? -1 : 1;
    if (a->j != b->j)
        return a->j < b->j ? -1 : 1;
    return (a->k > b->k) - (a->k < b->k);
}

/* difflib.SequenceMatcher(None, a, b, autojunk=False).find_longest_match over word ids:
 * the longest run, the earliest in a, then in b; no junk, so no junk extension. */
static Block longest(const Py_ssize_t *a, const Py_ssize_t *b, Py_ssize_t alo, Py_ssize_t ahi,
                     Py_ssize_t blo, Py_ssize_t bhi, Py_ssize_t *prev, Py_ssize_t *cur)
{
    Block best = {alo, blo, 0};
    for (Py_ssize_t j = blo; j <= bhi; j++)
        prev[j] = 0;
    for (Py_ssize_t i = alo; i < ahi; i++) {
        cur[blo] = 0;
        for (Py_ssize_t j = blo; j < bhi; j++) {
            /* cur[j + 1]: the run ending at a[i], b[j]. */
            Py_ssize_t k = a[i] == b[j] ? prev[j] + 1 : 0;
            cur[j + 1] = k;
            if (k > best.k) {
                best.i = i - k + 1;
                best.j = j - k + 1;
                best.k = k;
            }
        }
        Py_ssize_t *t = prev;
        prev = cur;
        cur = t;
    }
    while (best.i > alo && best.j > blo && a[best.i - 1] == b[best.j - 1]) {
        best.i--;
        best.j--;
        best.k++;
    }
    while (best.i + best.k < ahi && best.j + best.k < bhi && a[best.i + best.k] == b[best.j + best.k])
        best.k++;
    return best;
}

/* matching_blocks(a, b) -> [(i, j, size), ...] as SequenceMatcher(None, a, b,
 * autojunk=False).get_matching_blocks() gives them, for two lists of str. */
static PyObject *matching_blocks(PyObject *self, PyObject *args)
{
    PyObject *a_o, *b_o;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &a_o, &PyList_Type, &b_o))
        return NULL;
    Py_ssize_t la = PyList_GET_SIZE(a_o), lb = PyList_GET_SIZE(b_o);
    PyObject *ids = PyDict_New(), *result = NULL;
    Py_ssize_t n = la + lb + 2;
    Py_ssize_t *mem = PyMem_Malloc(sizeof(Py_ssize_t) * (la + lb + 2 * (lb + 1) + 4 * (n + 1)));
    Block *blocks = PyMem_Malloc(sizeof(Block) * (n + 1));
    if (!ids || !mem || !blocks) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t *a = mem, *b = a + la, *prev = b + lb, *cur = prev + lb + 1, *queue = cur + lb + 1;
    /* Words as ids: b's words numbered, a's words not in b get -1. */
    for (Py_ssize_t j = 0; j < lb; j++) {
        PyObject *w = PyList_GET_ITEM(b_o, j);
        PyObject *id = PyDict_GetItemWithError(ids, w);
        if (!id) {
            if (PyErr_Occurred())
                goto done;
            id = PyLong_FromSsize_t(PyDict_GET_SIZE(ids));
            if (!id || PyDict_SetItem(ids, w, id) < 0) {
                Py_XDECREF(id);
                goto done;
            }
            Py_DECREF(id);
        }
        b[j] = PyLong_AsSsize_t(id);
    }
    for (Py_ssize_t i = 0; i < la; i++) {
        PyObject *id = PyDict_GetItemWithError(ids, PyList_GET_ITEM(a_o, i));
        if (!id && PyErr_Occurred())
            goto done;
        a[i] = id ? PyLong_AsSsize_t(id) : -1;
    }
    Py_ssize_t found = 0, queued = 1;
    queue[0] = 0, queue[1] = la, queue[2] = 0, queue[3] = lb;
    while (queued) {
        queued--;
        Py_ssize_t *q = queue + 4 * queued;
        Py_ssize_t alo = q[0], ahi = q[1], blo = q[2], bhi = q[3];
        Block x = longest(a, b, alo, ahi, blo, bhi, prev, cur);
        if (!x.k)
            continue;
        blocks[found++] = x;
        if (alo < x.i && blo < x.j) {
            Py_ssize_t *r = queue + 4 * queued++;
            r[0] = alo, r[1] = x.i, r[2] = blo, r[3] = x.j;
        }
        if (x.i + x.k < ahi && x.j + x.k < bhi) {
            Py_ssize_t *r = queue + 4 * queued++;
            r[0] = x.i + x.k, r[1] = ahi, r[2] = x.j + x.k, r[3] = bhi;
        }
    }
    qsort(blocks, found, sizeof(Block), block_order);
    /* Adjacent blocks joined, then the sentinel (la, lb, 0), as difflib does. */
    Py_ssize_t kept = 0;
    Block run = {0, 0, 0};
    for (Py_ssize_t m = 0; m < found; m++) {
        Block x = blocks[m];
        if (run.i + run.k == x.i && run.j + run.k == x.j) {
            run.k += x.k;
        } else {
            if (run.k)
                blocks[kept++] = run;
            run = x;
        }
    }
    if (run.k)
        blocks[kept++] = run;
    blocks[kept++] = (Block){la, lb, 0};
    result = PyList_New(kept);
    for (Py_ssize_t m = 0; result && m < kept; m++) {
        PyObject *t = Py_BuildValue("(nnn)", blocks[m].i, blocks[m].j, blocks[m].k);
        if (!t)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, m, t);
    }
done:
    Py_XDECREF(ids);
    PyMem_Free(mem);
    PyMem_Free(blocks);
    return result;
}

/* -------------------------------------------------------------- BandTable */

/* One region's LSH band tables (CandidateIndex._tables[region]): band key -> the
 * posts sharing it. An open-addressing table of 64-bit keys, each heading a chain
 * of nodes; about 16 bytes a key and 8 a post, against a Python dict's entry, int
 * object and list. Each post is a small int (its id, reused once freed) with its
 * name (a str) and MinHash signature, so a candidate whose signature agrees too
 * little is dropped here, before any Python object is made for it. */
typedef struct {
    uint64_t key;
    int32_t head; /* first node; EMPTY or GONE when the slot holds no key */
} BandSlot;

typedef struct {
    int32_t id;
    int32_t next;
} BandNode;

enum { EMPTY = -1, GONE = -2 };

typedef struct {
    PyObject_HEAD
    BandSlot *slots;
    size_t mask, filled, live; /* filled counts GONE slots too */
    BandNode *nodes;
    int32_t nodes_cap, nodes_top, free_node;
    /* Per id: its name (a str, owned; NULL when the id is free), its signature, the
     * last add() that reported it (so each id once a call), the next free id. */
    PyObject **names;
    uint32_t *sigs;
    uint32_t *stamps;
    int32_t *free_next;
    int32_t ids_cap, ids_top, free_id, posts;
    Py_ssize_t perms; /* signature length in uint32 values, fixed by the first add */
    uint32_t epoch;
} BandTable;

static size_t band_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDull;
    k ^= k >> 33;
    return (size_t)k;
}

static int bands_grow(BandTable *t)
{
    size_t old_cap = t->slots ? t->mask + 1 : 0;
    size_t cap = old_cap ? old_cap * 2 : 1024;
    if (t->live * 2 < old_cap / 2)
        cap = old_cap; /* mostly GONE slots: rehash in place size */
    BandSlot *slots = PyMem_Malloc(cap * sizeof(BandSlot));
    if (!slots)
        return -1;
    for (size_t i = 0; i < cap; i++)
        slots[i].head = EMPTY;
    for (size_t i = 0; i < old_cap; i++) {
        BandSlot *s = &t->slots[i];
        if (s->head < 0)
            continue;
        size_t at = band_hash(s->key) & (cap - 1);
        while (slots[at].head != EMPTY)
            at = (at + 1) & (cap - 1);
        slots[at] = *s;
    }
    PyMem_Free(t->slots);
    t->slots = slots;
    t->mask = cap - 1;
    t->filled = t->live;
    return 0;
}

/* The slot holding key, or NULL. */
static BandSlot *bands_find(BandTable *t, uint64_t key)
{
    if (!t->slots)
        return NULL;
    size_t at = band_hash(key) & t->mask;
    for (;;) {
        BandSlot *s = &t->slots[at];
        if (s->head == EMPTY)
            return NULL;
        if (s->head != GONE && s->key == key)
            return s;
        at = (at + 1) & t->mask;
    }
}

static int32_t bands_node(BandTable *t, int32_t id, int32_t next)
{
    int32_t n = t->free_node;
    if (n >= 0) {
        t->free_node = t->nodes[n].next;
    } else {
        if (t->nodes_top == t->nodes_cap) {
            int32_t cap = t->nodes_cap ? t->nodes_cap * 2 : 4096;
            BandNode *nodes = PyMem_Realloc(t->nodes, (size_t)cap * sizeof(BandNode));
            if (!nodes)
                return -1;
            t->nodes = nodes;
            t->nodes_cap = cap;
        }
        n = t->nodes_top++;
    }
    t->nodes[n].id = id;
    t->nodes[n].next = next;
    return n;
}

/* A free id, with the per-id arrays grown when needed; -1 when out of memory. */
static int32_t bands_new_id(BandTable *t)
{
    if (t->free_id >= 0) {
        int32_t id = t->free_id;
        t->free_id = t->free_next[id];
        return id;
    }
    if (t->ids_top == t->ids_cap) {
        int32_t cap = t->ids_cap ? t->ids_cap * 2 : 1024;
        PyObject **names = PyMem_Realloc(t->names, (size_t)cap * sizeof(PyObject *));
        if (names)
            t->names = names;
        uint32_t *sigs = PyMem_Realloc(t->sigs, (size_t)cap * t->perms * sizeof(uint32_t));
        if (sigs)
            t->sigs = sigs;
        uint32_t *stamps = PyMem_Realloc(t->stamps, (size_t)cap * sizeof(uint32_t));
        if (stamps)
            t->stamps = stamps;
        int32_t *free_next = PyMem_Realloc(t->free_next, (size_t)cap * sizeof(int32_t));
        if (free_next)
            t->free_next = free_next;
        if (!names || !sigs || !stamps || !free_next)
            return -1; /* the arrays that did grow keep their old contents */
        memset(t->stamps + t->ids_cap, 0, (size_t)(cap - t->ids_cap) * sizeof(uint32_t));
        t->ids_cap = cap;
    }
    return t->ids_top++;
}

/* In how many places two signatures of n values are equal. */
static Py_ssize_t agreement(const uint32_t *a, const uint32_t *b, Py_ssize_t n)
{
    Py_ssize_t same = 0;
    for (Py_ssize_t p = 0; p < n; p++)
        same += a[p] == b[p];
    return same;
}

static int read_keys(PyObject *obj, Py_buffer *view)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0)
        return -1;
    if (view->len % 8) {
        PyErr_SetString(PyExc_ValueError, "band keys: a multiple of 8 bytes");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* add(name, keys, sig, at_least) -> (id, names): the post joins the chains of its
 * uint64 band keys (bytes) under a new id; names are the posts already sharing one
 * of the keys (each once) whose signature agrees with sig in at least at_least
 * places, in the order the chains hold them. */
static PyObject *bands_add(BandTable *t, PyObject *args)
{
    PyObject *name, *keys_o, *found = NULL;
    Py_buffer v, sig_v;
    Py_ssize_t at_least;
    if (!PyArg_ParseTuple(args, "UOy*n", &name, &keys_o, &sig_v, &at_least))
        return NULL;
    if (read_keys(keys_o, &v) < 0) {
        PyBuffer_Release(&sig_v);
        return NULL;
    }
    const uint64_t *keys = v.buf;
    const uint32_t *sig = sig_v.buf;
    Py_ssize_t n = v.len / 8;
    if (!t->perms && !t->ids_cap && sig_v.len > 0 && sig_v.len % 4 == 0)
        t->perms = sig_v.len / 4;
    if (!t->perms || sig_v.len != t->perms * 4) {
        PyErr_SetString(PyExc_ValueError, "add(): signatures of one length, 4 bytes a value");
        goto fail;
    }
    found = PyList_New(0);
    if (!found)
        goto fail;
    int32_t id = bands_new_id(t);
    if (id < 0) {
        PyErr_NoMemory();
        goto fail;
    }
    t->names[id] = Py_NewRef(name);
    memcpy(t->sigs + (size_t)id * t->perms, sig, (size_t)t->perms * sizeof(uint32_t));
    t->posts++;
    if (++t->epoch == 0) { /* wrapped: old stamps could match again */
        memset(t->stamps, 0, (size_t)t->ids_cap * sizeof(uint32_t));
        t->epoch = 1;
    }
    t->stamps[id] = t->epoch; /* never itself */
    /* From here on the post is in the table: a failure leaves it in the chains it
     * joined, which is still a consistent table (remove() takes it out). */
    while ((t->filled + (size_t)n + 1) * 10 > (t->mask + 1) * 6 || !t->slots)
        if (bands_grow(t) < 0) { /* grown first: room for every key of the post */
            PyErr_NoMemory();
            goto fail;
        }
    /* Each key's slot is a cache miss in a large table: all of them asked for at once,
     * then each chain's first node, so the misses overlap instead of queueing. */
    for (Py_ssize_t b = 0; b < n; b++)
        __builtin_prefetch(&t->slots[band_hash(keys[b]) & t->mask]);
    for (Py_ssize_t b = 0; b < n; b++) {
        BandSlot *s = bands_find(t, keys[b]);
        if (s)
            __builtin_prefetch(&t->nodes[s->head]);
    }
    for (Py_ssize_t b = 0; b < n; b++) {
        BandSlot *s = bands_find(t, keys[b]);
        if (s) {
            for (int32_t x = s->head; x >= 0; x = t->nodes[x].next) {
                int32_t other = t->nodes[x].id;
                if (t->stamps[other] == t->epoch)
                    continue;
                t->stamps[other] = t->epoch;
                if (at_least > 0 &&
                    agreement(t->sigs + (size_t)other * t->perms, sig, t->perms) < at_least)
                    continue; /* (a short post asks for every candidate: no rows read) */
                if (PyList_Append(found, t->names[other]) < 0)
                    goto fail;
            }
            int32_t node = bands_node(t, id, s->head);
            if (node < 0) {
                PyErr_NoMemory();
                goto fail;
            }
            s->head = node;
        } else {
            int32_t node = bands_node(t, id, -1);
            if (node < 0) {
                PyErr_NoMemory();
                goto fail;
            }
            size_t at = band_hash(keys[b]) & t->mask;
            while (t->slots[at].head >= 0)
                at = (at + 1) & t->mask;
            if (t->slots[at].head == EMPTY)
                t->filled++;
            t->slots[at].key = keys[b];
            t->slots[at].head = node;
            t->live++;
        }
    }
    PyBuffer_Release(&v);
    PyBuffer_Release(&sig_v);
    return Py_BuildValue("(iN)", id, found);
fail:
    PyBuffer_Release(&v);
    PyBuffer_Release(&sig_v);
    Py_XDECREF(found);
    return NULL;
}

/* Is id a post the table holds? Sets KeyError when not. */
static int live_id(BandTable *t, int id)
{
    if (id < 0 || id >= t->ids_top || !t->names[id]) {
        PyErr_Format(PyExc_KeyError, "no post %d in this table", id);
        return 0;
    }
    return 1;
}

/* agreement(id, sig) -> in how many places the post's signature equals sig. */
static PyObject *bands_agreement(BandTable *t, PyObject *args)
{
    int id;
    Py_buffer sig_v;
    if (!PyArg_ParseTuple(args, "iy*", &id, &sig_v))
        return NULL;
    PyObject *result = NULL;
    if (sig_v.len != t->perms * 4)
        PyErr_SetString(PyExc_ValueError, "agreement(): a signature of the table's length");
    else if (live_id(t, id))
        result =
            PyLong_FromSsize_t(agreement(t->sigs + (size_t)id * t->perms, sig_v.buf, t->perms));
    PyBuffer_Release(&sig_v);
    return result;
}

/* remove(id, keys): the post leaves each of its band keys' chains; its id is freed. */
static PyObject *bands_remove(BandTable *t, PyObject *args)
{
    int id;
    PyObject *keys_o;
    Py_buffer v;
    if (!PyArg_ParseTuple(args, "iO", &id, &keys_o) || !live_id(t, id) ||
        read_keys(keys_o, &v) < 0)
        return NULL;
    const uint64_t *keys = v.buf;
    for (Py_ssize_t b = 0; b < v.len / 8; b++) {
        BandSlot *s = bands_find(t, keys[b]);
        if (!s)
            continue;
        for (int32_t *link = &s->head; *link >= 0; link = &t->nodes[*link].next) {
            int32_t x = *link;
            if (t->nodes[x].id != id)
                continue;
            *link = t->nodes[x].next;
            t->nodes[x].next = t->free_node;
            t->free_node = x;
            break;
        }
        if (s->head == EMPTY) { /* the chain ended: the key is gone */
            s->head = GONE;
            t->live--;
        }
    }
    PyBuffer_Release(&v);
    Py_CLEAR(t->names[id]);
    t->free_next[id] = t->free_id;
    t->free_id = id;
    t->posts--;
    Py_RETURN_NONE;
}

static Py_ssize_t bands_len(BandTable *t) { return (Py_ssize_t)t->posts; }

static void bands_dealloc(BandTable *t)
{
    for (int32_t i = 0; i < t->ids_top; i++)
        Py_XDECREF(t->names[i]);
    PyMem_Free(t->slots);
    PyMem_Free(t->nodes);
    PyMem_Free(t->names);
    PyMem_Free(t->sigs);
    PyMem_Free(t->stamps);
    PyMem_Free(t->free_next);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static PyObject *bands_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    BandTable *t = (BandTable *)type->tp_alloc(type, 0); /* zeroed */
    if (t) {
        t->free_node = -1;
        t->free_id = -1;
    }
    return (PyObject *)t;
}

static PyMethodDef bands_methods[] = {
    {"add", (PyCFunction)bands_add, METH_VARARGS,
     "add(name, keys, sig, at_least) -> (id, names of the posts already sharing one of the "
     "uint64 band keys, each once, whose signature agrees with sig in at_least places)."},
    {"remove", (PyCFunction)bands_remove, METH_VARARGS, "remove(id, keys): forget the post."},
    {"agreement", (PyCFunction)bands_agreement, METH_VARARGS,
     "agreement(id, sig) -> the places in which the post's signature equals sig."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods bands_seq = {.sq_length = (lenfunc)bands_len};

static PyTypeObject BandTableType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "incidents.domain.copies._speedups.BandTable",
    .tp_basicsize = sizeof(BandTable),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One region's LSH band tables: band key -> the posts sharing it (names and "
              "signatures kept).",
    .tp_new = bands_new,
    .tp_dealloc = (destructor)bands_dealloc,
    .tp_methods = bands_methods,
    .tp_as_sequence = &bands_seq,
};

static PyMethodDef methods[] = {
    {"overlap", overlap, METH_VARARGS,
     "overlap(a, b) -> (shared, distinct in a, distinct in b) of two uint32 buffers."},
    {"overlap_text", overlap_text, METH_VARARGS,
     "overlap_text(a, text, k, mul) -> overlap(a, the k-gram hashes of text)."},
    {"screen_records", screen_records, METH_VARARGS,
     "screen_records(a, records, field, k, mul, gate) -> [(i, shared, distinct in a, distinct "
     "in its text, its characters, its words)] for the msgpack records worth a full look."},
    {"matching_blocks", matching_blocks, METH_VARARGS,
     "matching_blocks(a, b) -> difflib's get_matching_blocks for two lists of words (no junk)."},
    {"clean_words", clean_words, METH_O,
     "clean_words(text) -> (clean, cut, words); words None when a wrapper, quote or cut "
     "marker is for the Python code to strip; None when the Python path must decide."},
    {"words", words, METH_O,
     "words(text) -> clean_words(text), or None when text has a character the fast path "
     "does not take."},
    {"sign", sign, METH_VARARGS,
     "sign(texts, k, mul, a, b) -> (k-gram hashes per text, MinHash values)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_speedups",
    "Compiled twins of dedup's hottest steps; see incidents/domain/copies/speedups.py.", -1, methods,
};

PyMODINIT_FUNC PyInit__speedups(void)
{
    if (PyType_Ready(&BandTableType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddObjectRef(m, "BandTable", (PyObject *)&BandTableType) < 0)
        Py_CLEAR(m);
    return m;
}
