package org.locore.model.io;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A Python pickle reader (protocols 0 to 5) that understands the objects that PyTorch and NumPy pickles hold,
 * without running any Python code and without instantiating classes named by the file.
 *
 * <p>Python values become Java values: {@code None} is null, {@code bool} is {@link Boolean}, {@code int} is
 * {@link Long} (or {@link BigInteger} when it does not fit), {@code float} is {@link Double}, {@code str} is
 * {@link String}, {@code bytes} is {@code byte[]}, {@code list} is a mutable {@link List}, {@code tuple} an
 * unmodifiable {@link List}, {@code dict} and {@code collections.OrderedDict} a {@link LinkedHashMap}, sets a
 * {@link LinkedHashSet}. Torch tensors ({@code torch._utils._rebuild_tensor_v2}, also inside
 * {@code _rebuild_parameter}) and NumPy arrays ({@code numpy.core.multiarray._reconstruct}, or
 * {@code numpy._core...} of NumPy 2, or {@code _frombuffer} of protocol 5) become {@link Tensor}s with their
 * stored element type, strided views materialised in row-major order; one-dimensional NumPy arrays of objects
 * or strings become lists. Storages come either from the caller (persistent ids, see
 * {@link TorchCheckpoint}) or from {@code torch.storage._load_from_bytes} (a legacy {@code torch.save} of the
 * storage embedded in the pickle, as {@code pickle.dump(tensor)} writes). Other classes become
 * {@link PyObject}s holding their arguments and state; bare class references are {@link Global}s.
 *
 * <p>Every length read from the file is checked against the bytes left before anything is allocated, so
 * damaged files fail fast with a {@link FormatException} naming the file and the problem.
 */
public final class TorchUnpickler {
    /** The number {@code torch.save} writes first in its legacy (non-zip) format. */
    static final BigInteger LEGACY_MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);
    /** Protocol version of the legacy format that PyTorch writes and reads. */
    static final long LEGACY_PROTOCOL = 1001;
    /** Deepest nesting of containers accepted. */
    private static final int MAX_DEPTH = 2000;

    /** A reference to a Python class or function ({@code module.name}) that was not called. */
    public record Global(String module, String name) {
        @Override
        public String toString() {
            return module + "." + name;
        }
    }

    /** An instance of a class this reader does not model: its class, constructor arguments and state. */
    public static final class PyObject {
        private final String type;
        private final List<Object> args;
        private Object state;

        PyObject(String type, List<Object> args) {
            this.type = type;
            this.args = args;
        }

        /** The qualified class name, {@code module.name}. */
        public String type() {
            return type;
        }

        /** The arguments it was constructed with. */
        public List<Object> args() {
            return args;
        }

        /** The state given by BUILD ({@code __setstate__}), or null. */
        public Object state() {
            return state;
        }

        @Override
        public String toString() {
            return type + args;
        }
    }

    /** What a pickle held and which globals it referred to (for format detection). */
    public record Result(Object root, Set<String> globals) {
    }

    /** Answers persistent ids ({@code BINPERSID}); the torch readers turn them into storages. */
    @FunctionalInterface
    interface PersistentLoader {
        Object load(Object pid) throws FormatException;
    }

    /** Raised inside the opcode loop; turned into a FormatException with the byte position. */
    private static final class Bad extends RuntimeException {
        Bad(String message) {
            super(message, null, false, false);
        }
    }

    private static final Object MARK = new Object() {
        @Override
        public String toString() {
            return "MARK";
        }
    };

    private final Path file;
    private final PersistentLoader persistentLoader;
    private final Set<String> globals = new TreeSet<>();
    private byte[] buf;
    private int pos;
    private int end;

    TorchUnpickler(Path file, PersistentLoader persistentLoader) {
        this.file = file;
        this.persistentLoader = persistentLoader;
    }

    /** Unpickles one pickle from {@code bytes} (trailing bytes are ignored, as Python does) and resolves tensors. */
    public static Object load(Path file, byte[] bytes) throws FormatException {
        return unpickle(file, bytes).root();
    }

    /** Like {@link #load(Path, byte[])}, also reporting the globals the pickle referred to. */
    public static Result unpickle(Path file, byte[] bytes) throws FormatException {
        TorchUnpickler u = new TorchUnpickler(file, null);
        Object raw = u.loadRaw(bytes, 0, bytes.length);
        return new Result(resolve(file, raw), Collections.unmodifiableSet(u.globals));
    }

    /** The globals referred to so far, as {@code module.name}. */
    Set<String> globals() {
        return globals;
    }

    /** Where the last pickle ended (the byte after its STOP). */
    int position() {
        return pos;
    }

    /**
     * Reads one pickle from {@code bytes[start, end)}. Tensors are left as deferred references (their storages
     * may be filled only later, as in the legacy torch format); pass the result to {@link #resolve}.
     */
    Object loadRaw(byte[] bytes, int start, int end) throws FormatException {
        this.buf = bytes;
        this.pos = start;
        this.end = end;
        int opStart = start;
        try {
            List<Object> stack = new ArrayList<>();
            Deque<Integer> marks = new ArrayDeque<>();
            Map<Long, Object> memo = new HashMap<>();
            while (true) {
                opStart = pos;
                if (pos >= this.end) {
                    throw new Bad("truncated: the pickle ends without its STOP opcode");
                }
                int op = u8("opcode");
                switch (op) {
                    case 0x80 -> { // PROTO
                        int p = u8("protocol");
                        if (p > 5) throw new Bad("unsupported pickle protocol " + p);
                    }
                    case 0x95 -> { // FRAME
                        long n = i64("frame length");
                        if (n < 0 || n > this.end - pos) {
                            throw new Bad("truncated: frame of " + n + " bytes but only " + (this.end - pos) + " left");
                        }
                    }
                    case '.' -> { // STOP
                        return pop(stack, marks); // like Python: the top of the stack, whatever lies below
                    }
                    case '(' -> { marks.push(stack.size()); stack.add(MARK); }
                    case '0' -> pop(stack, marks);
                    case '1' -> popMark(stack, marks);
                    case '2' -> stack.add(peek(stack, marks));
                    case 'N' -> stack.add(null);
                    case 0x88 -> stack.add(Boolean.TRUE);
                    case 0x89 -> stack.add(Boolean.FALSE);
                    case 'J' -> stack.add((long) i32("BININT"));
                    case 'K' -> stack.add((long) u8("BININT1"));
                    case 'M' -> stack.add((long) u16("BININT2"));
                    case 'I' -> stack.add(parseIntLine(line("INT")));
                    case 'L' -> stack.add(parseLongLine(line("LONG")));
                    case 0x8a -> stack.add(longBytes(u8("LONG1")));
                    case 0x8b -> stack.add(longBytes(length(i32("LONG4"), "LONG4")));
                    case 'F' -> stack.add(parseFloat(line("FLOAT")));
                    case 'G' -> stack.add(Double.longBitsToDouble(Long.reverseBytes(le64(8, "BINFLOAT"))));
                    case 'S' -> stack.add(parseQuotedString(line("STRING")));
                    case 'T' -> stack.add(latin1(bytes(length(i32("BINSTRING"), "BINSTRING"))));
                    case 'U' -> stack.add(latin1(bytes(u8("SHORT_BINSTRING"))));
                    case 'B' -> stack.add(bytes(length(u32("BINBYTES"), "BINBYTES")));
                    case 'C' -> stack.add(bytes(u8("SHORT_BINBYTES")));
                    case 0x8e -> stack.add(bytes(length(i64("BINBYTES8"), "BINBYTES8")));
                    case 0x96 -> stack.add(bytes(length(i64("BYTEARRAY8"), "BYTEARRAY8")));
                    case 'V' -> stack.add(rawUnicodeEscape(line("UNICODE")));
                    case 'X' -> stack.add(utf8(bytes(length(u32("BINUNICODE"), "BINUNICODE"))));
                    case 0x8c -> stack.add(utf8(bytes(u8("SHORT_BINUNICODE"))));
                    case 0x8d -> stack.add(utf8(bytes(length(i64("BINUNICODE8"), "BINUNICODE8"))));
                    case ')' -> stack.add(tuple(List.of()));
                    case 0x85 -> stack.add(tuple(popN(stack, marks, 1)));
                    case 0x86 -> stack.add(tuple(popN(stack, marks, 2)));
                    case 0x87 -> stack.add(tuple(popN(stack, marks, 3)));
                    case 't' -> stack.add(tuple(popToMark(stack, marks)));
                    case ']' -> stack.add(new ArrayList<>());
                    case 'l' -> stack.add(new ArrayList<>(popToMark(stack, marks)));
                    case '}' -> stack.add(new LinkedHashMap<>());
                    case 'd' -> {
                        Map<Object, Object> m = new LinkedHashMap<>();
                        putPairs(m, popToMark(stack, marks));
                        stack.add(m);
                    }
                    case 0x8f -> stack.add(new LinkedHashSet<>());
                    case 0x91 -> stack.add(Collections.unmodifiableSet(new LinkedHashSet<>(popToMark(stack, marks))));
                    case 0x90 -> {
                        List<Object> items = popToMark(stack, marks);
                        asSet(peek(stack, marks)).addAll(items);
                    }
                    case 'a' -> {
                        Object v = pop(stack, marks);
                        asList(peek(stack, marks)).add(v);
                    }
                    case 'e' -> {
                        List<Object> items = popToMark(stack, marks);
                        asList(peek(stack, marks)).addAll(items);
                    }
                    case 's' -> {
                        Object v = pop(stack, marks);
                        Object k = pop(stack, marks);
                        asMap(peek(stack, marks)).put(k, v);
                    }
                    case 'u' -> {
                        List<Object> items = popToMark(stack, marks);
                        putPairs(asMap(peek(stack, marks)), items);
                    }
                    case 'p' -> memo.put(parseMemoIndex(line("PUT")), peek(stack, marks));
                    case 'q' -> memo.put((long) u8("BINPUT"), peek(stack, marks));
                    case 'r' -> memo.put((long) u32("LONG_BINPUT"), peek(stack, marks));
                    case 0x94 -> memo.put((long) memo.size(), peek(stack, marks));
                    case 'g' -> stack.add(memoGet(memo, parseMemoIndex(line("GET"))));
                    case 'h' -> stack.add(memoGet(memo, u8("BINGET")));
                    case 'j' -> stack.add(memoGet(memo, u32("LONG_BINGET")));
                    case 'c' -> {
                        String module = utf8(lineBytes("GLOBAL"));
                        String name = utf8(lineBytes("GLOBAL"));
                        stack.add(global(module, name));
                    }
                    case 0x93 -> {
                        Object name = pop(stack, marks);
                        Object module = pop(stack, marks);
                        if (!(module instanceof String m) || !(name instanceof String n)) {
                            throw new Bad("STACK_GLOBAL needs two strings");
                        }
                        stack.add(global(m, n));
                    }
                    case 'R' -> {
                        Object args = pop(stack, marks);
                        Object callable = pop(stack, marks);
                        stack.add(call(callable, asTuple(args, "REDUCE arguments")));
                    }
                    case 0x81 -> { // NEWOBJ
                        Object args = pop(stack, marks);
                        Object cls = pop(stack, marks);
                        stack.add(call(cls, asTuple(args, "NEWOBJ arguments")));
                    }
                    case 0x92 -> { // NEWOBJ_EX
                        pop(stack, marks); // kwargs
                        Object args = pop(stack, marks);
                        Object cls = pop(stack, marks);
                        stack.add(call(cls, asTuple(args, "NEWOBJ_EX arguments")));
                    }
                    case 'o' -> { // OBJ
                        List<Object> items = popToMark(stack, marks);
                        if (items.isEmpty()) throw new Bad("OBJ without a class");
                        stack.add(call(items.get(0), items.subList(1, items.size())));
                    }
                    case 'i' -> { // INST
                        String module = utf8(lineBytes("INST"));
                        String name = utf8(lineBytes("INST"));
                        List<Object> items = popToMark(stack, marks);
                        stack.add(call(global(module, name), items));
                    }
                    case 'b' -> { // BUILD
                        Object state = pop(stack, marks);
                        build(peek(stack, marks), state);
                    }
                    case 'Q' -> { // BINPERSID
                        Object pid = pop(stack, marks);
                        stack.add(persistent(pid));
                    }
                    case 'P' -> stack.add(persistent(utf8(lineBytes("PERSID"))));
                    case 0x98 -> { } // READONLY_BUFFER: a no-op for us
                    case 0x82, 0x83, 0x84 -> throw new Bad("extension registry codes (EXT1/2/4) are not supported");
                    case 0x97 -> throw new Bad("out-of-band buffers (NEXT_BUFFER) are not supported");
                    default -> throw new Bad(String.format("not a pickle: unknown opcode 0x%02x", op));
                }
            }
        } catch (Bad e) {
            throw new FormatException(file, hint(start) + "bad pickle at byte " + opStart + ": " + e.getMessage());
        } catch (FormatException e) {
            throw e;
        } catch (RuntimeException | StackOverflowError e) {
            throw new FormatException(file, hint(start) + "bad pickle at byte " + opStart + ": " + e, e);
        }
    }

    /** Says so when the data does not even start like a pickle of protocol 2 or later. */
    private String hint(int start) {
        return start < end && (buf[start] & 0xff) != 0x80 ? "not a pickle (no protocol header); " : "";
    }

    // ----------------------------------------------------------------------------------------- raw input

    private int u8(String what) {
        need(1, what);
        return buf[pos++] & 0xff;
    }

    private int u16(String what) {
        return (int) le64(2, what);
    }

    private int i32(String what) {
        return (int) le64(4, what);
    }

    private long u32(String what) {
        return le64(4, what) & 0xffffffffL;
    }

    private long i64(String what) {
        return le64(8, what);
    }

    /** Reads {@code n} little-endian bytes as an unsigned number (n = 8 gives the signed long). */
    private long le64(int n, String what) {
        need(n, what);
        long v = 0;
        for (int i = n - 1; i >= 0; i--) {
            v = (v << 8) | (buf[pos + i] & 0xff);
        }
        pos += n;
        return v;
    }

    private void need(long n, String what) {
        if (n > end - pos) {
            throw new Bad("truncated: " + what + " needs " + n + " bytes but only " + (end - pos) + " are left");
        }
    }

    private int length(long n, String what) {
        if (n < 0) {
            throw new Bad(what + " has a negative length " + n);
        }
        need(n, what);
        return (int) n;
    }

    private byte[] bytes(int n) {
        byte[] b = Arrays.copyOfRange(buf, pos, pos + n);
        pos += n;
        return b;
    }

    private byte[] lineBytes(String what) {
        int i = pos;
        while (i < end && buf[i] != '\n') i++;
        if (i >= end) {
            throw new Bad("truncated: " + what + " argument has no end of line");
        }
        byte[] b = Arrays.copyOfRange(buf, pos, i);
        pos = i + 1;
        return b;
    }

    private String line(String what) {
        return latin1(lineBytes(what));
    }

    private static String latin1(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    private static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    private static Object parseIntLine(String s) {
        if (s.equals("00")) return Boolean.FALSE;
        if (s.equals("01")) return Boolean.TRUE;
        return parseLongLine(s);
    }

    private static Object parseLongLine(String s) {
        String t = s.endsWith("L") ? s.substring(0, s.length() - 1) : s;
        if (t.length() > 4096) {
            throw new Bad("integer literal of " + t.length() + " digits");
        }
        try {
            BigInteger b = new BigInteger(t.trim());
            return b.bitLength() < 64 ? (Object) b.longValue() : b;
        } catch (NumberFormatException e) {
            throw new Bad("invalid integer '" + s + "'");
        }
    }

    private static long parseMemoIndex(String s) {
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            throw new Bad("invalid memo index '" + s + "'");
        }
    }

    private static double parseFloat(String s) {
        String t = s.trim().toLowerCase(java.util.Locale.ROOT);
        switch (t) {
            case "nan", "-nan" -> { return Double.NaN; }
            case "inf" -> { return Double.POSITIVE_INFINITY; }
            case "-inf" -> { return Double.NEGATIVE_INFINITY; }
            default -> { }
        }
        try {
            return Double.parseDouble(t);
        } catch (NumberFormatException e) {
            throw new Bad("invalid float '" + s + "'");
        }
    }

    private Object longBytes(int n) {
        need(n, "LONG");
        if (n == 0) return 0L;
        byte[] be = new byte[n];
        for (int i = 0; i < n; i++) be[i] = buf[pos + n - 1 - i];
        pos += n;
        BigInteger b = new BigInteger(be);
        return b.bitLength() < 64 ? (Object) b.longValue() : b;
    }

    /** Decodes a protocol-0 STRING argument: a quoted Python literal with backslash escapes. */
    private static String parseQuotedString(String s) {
        if (s.length() < 2 || s.charAt(0) != s.charAt(s.length() - 1) || (s.charAt(0) != '\'' && s.charAt(0) != '"')) {
            throw new Bad("STRING argument is not quoted");
        }
        String body = s.substring(1, s.length() - 1);
        StringBuilder out = new StringBuilder(body.length());
        for (int i = 0; i < body.length(); i++) {
            char c = body.charAt(i);
            if (c != '\\' || i + 1 >= body.length()) {
                out.append(c);
                continue;
            }
            char e = body.charAt(++i);
            switch (e) {
                case 'n' -> out.append('\n');
                case 't' -> out.append('\t');
                case 'r' -> out.append('\r');
                case '0' -> out.append('\0');
                case 'x' -> {
                    if (i + 2 >= body.length()) throw new Bad("bad \\x escape in STRING");
                    try {
                        out.append((char) Integer.parseInt(body.substring(i + 1, i + 3), 16));
                    } catch (NumberFormatException ex) {
                        throw new Bad("bad \\x escape in STRING");
                    }
                    i += 2;
                }
                default -> out.append(e);
            }
        }
        return out.toString();
    }

    /** Decodes a protocol-0 UNICODE argument (raw-unicode-escape). */
    private static String rawUnicodeEscape(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 6 <= s.length() && s.charAt(i + 1) == 'u') {
                out.append((char) Integer.parseInt(s.substring(i + 2, i + 6), 16));
                i += 5;
            } else if (c == '\\' && i + 1 < s.length() && s.charAt(i + 1) == 'U' && i + 10 <= s.length()) {
                out.appendCodePoint(Integer.parseInt(s.substring(i + 2, i + 10), 16));
                i += 9;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    // ----------------------------------------------------------------------------------------- stack

    private static Object pop(List<Object> stack, Deque<Integer> marks) {
        int floor = marks.isEmpty() ? 0 : marks.peek() + 1;
        if (stack.size() <= floor) throw new Bad("stack underflow");
        return stack.remove(stack.size() - 1);
    }

    private static Object peek(List<Object> stack, Deque<Integer> marks) {
        int floor = marks.isEmpty() ? 0 : marks.peek() + 1;
        if (stack.size() <= floor) throw new Bad("stack underflow");
        return stack.get(stack.size() - 1);
    }

    private static List<Object> popN(List<Object> stack, Deque<Integer> marks, int n) {
        int floor = marks.isEmpty() ? 0 : marks.peek() + 1;
        if (stack.size() - n < floor) throw new Bad("stack underflow");
        List<Object> tail = stack.subList(stack.size() - n, stack.size());
        List<Object> out = new ArrayList<>(tail);
        tail.clear();
        return out;
    }

    private static List<Object> popToMark(List<Object> stack, Deque<Integer> marks) {
        if (marks.isEmpty()) throw new Bad("no MARK on the stack");
        int m = marks.pop();
        List<Object> tail = stack.subList(m + 1, stack.size());
        List<Object> out = new ArrayList<>(tail);
        stack.subList(m, stack.size()).clear();
        return out;
    }

    private static void popMark(List<Object> stack, Deque<Integer> marks) {
        popToMark(stack, marks);
    }

    private static Object memoGet(Map<Long, Object> memo, long key) {
        if (!memo.containsKey(key)) throw new Bad("memo entry " + key + " was never stored");
        return memo.get(key);
    }

    private static List<Object> tuple(List<Object> items) {
        return Collections.unmodifiableList(new ArrayList<>(items));
    }

    private static void putPairs(Map<Object, Object> m, List<Object> items) {
        if (items.size() % 2 != 0) throw new Bad("odd number of items for a dict");
        for (int i = 0; i < items.size(); i += 2) {
            m.put(items.get(i), items.get(i + 1));
        }
    }

    @SuppressWarnings("unchecked")
    private static List<Object> asList(Object o) {
        if (o instanceof ArrayList<?> l) return (List<Object>) l;
        throw new Bad("APPEND to a " + typeName(o) + ", not a list");
    }

    @SuppressWarnings("unchecked")
    private static Map<Object, Object> asMap(Object o) {
        if (o instanceof LinkedHashMap<?, ?> m) return (Map<Object, Object>) m;
        throw new Bad("SETITEM on a " + typeName(o) + ", not a dict");
    }

    @SuppressWarnings("unchecked")
    private static Set<Object> asSet(Object o) {
        if (o instanceof LinkedHashSet<?> s) return (Set<Object>) s;
        throw new Bad("ADDITEMS to a " + typeName(o) + ", not a set");
    }

    @SuppressWarnings("unchecked")
    private static List<Object> asTuple(Object o, String what) {
        if (o instanceof List<?> l) return (List<Object>) l;
        throw new Bad(what + " are a " + typeName(o) + ", not a tuple");
    }

    static String typeName(Object o) {
        if (o == null) return "None";
        if (o instanceof PyObject p) return p.type();
        if (o instanceof Global g) return "class " + g;
        if (o instanceof Tensor t) return "tensor " + t.dtype() + Arrays.toString(t.shape());
        if (o instanceof DeferredTensor || o instanceof NumpyArray) return "tensor";
        if (o instanceof byte[]) return "bytes";
        if (o instanceof Map) return "dict";
        if (o instanceof List) return "list";
        return o.getClass().getSimpleName();
    }

    // ----------------------------------------------------------------------------------------- objects

    private Global global(String module, String name) {
        globals.add(module + "." + name);
        return new Global(module, name);
    }

    private Object persistent(Object pid) throws FormatException {
        if (persistentLoader == null) {
            throw new Bad("persistent id " + pid + " in a plain pickle (only torch.save files have them)");
        }
        return persistentLoader.load(pid);
    }

    /** What calling a global (REDUCE, NEWOBJ, OBJ, INST) gives. Nothing from the file is ever executed. */
    private Object call(Object callable, List<Object> args) throws FormatException {
        if (!(callable instanceof Global g)) {
            throw new Bad("cannot call a " + typeName(callable));
        }
        String q = g.toString();
        switch (q) {
            case "collections.OrderedDict", "builtins.dict", "__builtin__.dict" -> {
                Map<Object, Object> m = new LinkedHashMap<>();
                if (!args.isEmpty() && args.get(0) instanceof Map<?, ?> src) {
                    m.putAll(src);
                } else if (!args.isEmpty() && args.get(0) instanceof List<?> pairs) {
                    for (Object p : pairs) {
                        List<Object> kv = asTuple(p, "dict items");
                        if (kv.size() != 2) throw new Bad("dict item is not a pair");
                        m.put(kv.get(0), kv.get(1));
                    }
                }
                return m;
            }
            case "builtins.list", "__builtin__.list" -> {
                return args.isEmpty() ? new ArrayList<>() : new ArrayList<>(asTuple(args.get(0), "list items"));
            }
            case "builtins.tuple", "__builtin__.tuple" -> {
                return args.isEmpty() ? tuple(List.of()) : tuple(asTuple(args.get(0), "tuple items"));
            }
            case "builtins.set", "__builtin__.set" -> {
                return args.isEmpty() ? new LinkedHashSet<>() : new LinkedHashSet<>(asTuple(args.get(0), "set items"));
            }
            case "builtins.frozenset", "__builtin__.frozenset" -> {
                return Collections.unmodifiableSet(args.isEmpty() ? new LinkedHashSet<>()
                        : new LinkedHashSet<>(asTuple(args.get(0), "set items")));
            }
            case "_codecs.encode" -> {
                if (args.isEmpty() || !(args.get(0) instanceof String s)) throw new Bad("_codecs.encode needs a str");
                String enc = args.size() > 1 && args.get(1) instanceof String e ? e : "utf-8";
                String norm = enc.toLowerCase(java.util.Locale.ROOT).replace("-", "").replace("_", "");
                return s.getBytes(norm.equals("latin1") || norm.equals("iso88591")
                        ? StandardCharsets.ISO_8859_1 : StandardCharsets.UTF_8);
            }
            case "builtins.bytes", "__builtin__.bytes", "builtins.bytearray", "__builtin__.bytearray" -> {
                if (args.isEmpty()) return new byte[0];
                if (args.get(0) instanceof byte[] b) return b.clone();
                if (args.get(0) instanceof String s) return s.getBytes(StandardCharsets.ISO_8859_1);
                throw new Bad(q + " of a " + typeName(args.get(0)));
            }
            case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor" -> {
                return rebuildTensor(args);
            }
            case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state" -> {
                if (args.isEmpty()) throw new Bad(q + " without arguments");
                return args.get(0);
            }
            case "torch._tensor._rebuild_from_type_v2" -> {
                // (func, tensor subclass, args, state): the subclass is dropped, the tensor kept
                if (args.size() < 3) throw new Bad(q + " with " + args.size() + " arguments");
                return call(args.get(0), asTuple(args.get(2), q + " arguments"));
            }
            case "torch.Size" -> {
                return args.isEmpty() ? tuple(List.of()) : tuple(asTuple(args.get(0), "torch.Size"));
            }
            case "torch.storage._load_from_bytes" -> {
                if (args.isEmpty() || !(args.get(0) instanceof byte[] b)) {
                    throw new Bad("torch.storage._load_from_bytes needs bytes");
                }
                return TorchCheckpoint.loadLegacyStorage(file, b);
            }
            case "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct" -> {
                return new NumpyArray();
            }
            case "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer" -> {
                // protocol 5: _frombuffer(buffer, dtype, shape, order)
                if (args.size() != 4) throw new Bad("numpy _frombuffer with " + args.size() + " arguments");
                NumpyArray a = new NumpyArray();
                a.setState(List.of(1L, args.get(2), args.get(1), "F".equals(args.get(3)), args.get(0)));
                return a;
            }
            case "numpy.dtype" -> {
                if (args.isEmpty() || !(args.get(0) instanceof String s)) throw new Bad("numpy.dtype needs a str");
                return new NumpyDType(s);
            }
            case "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar" -> {
                return numpyScalar(args);
            }
            default -> {
                return new PyObject(q, tuple(args));
            }
        }
    }

    private void build(Object target, Object state) {
        if (target instanceof NumpyArray a) {
            a.setState(asTuple(state, "numpy array state"));
        } else if (target instanceof NumpyDType d) {
            List<Object> s = asTuple(state, "numpy dtype state");
            if (s.size() > 1 && s.get(1) instanceof String bo) d.byteOrder = bo;
        } else if (target instanceof PyObject p) {
            p.state = state;
        }
        // dicts (OrderedDict's _metadata), lists, tensors (parameter state): nothing to keep
    }

    private Object numpyScalar(List<Object> args) {
        if (args.size() < 2 || !(args.get(0) instanceof NumpyDType d) || !(args.get(1) instanceof byte[] b)) {
            throw new Bad("numpy scalar needs a dtype and bytes");
        }
        DType t = d.dtype();
        if (b.length != t.size()) throw new Bad("numpy scalar of " + d.code + " with " + b.length + " bytes");
        Tensor x = new Tensor("scalar", t, new long[0], d.littleEndian(b, t));
        return t.isFloating() ? (Object) x.toDoubleArray()[0] : (Object) x.toLongArray()[0];
    }

    private Object rebuildTensor(List<Object> args) {
        if (args.size() < 4) throw new Bad("_rebuild_tensor with " + args.size() + " arguments");
        if (!(args.get(0) instanceof TorchStorage s)) throw new Bad("tensor storage is a " + typeName(args.get(0)));
        long offset = toLong(args.get(1), "storage offset");
        long[] size = longs(args.get(2), "size");
        long[] stride = longs(args.get(3), "stride");
        return new DeferredTensor(s, offset, size, stride);
    }

    private static long toLong(Object o, String what) {
        if (o instanceof Long l) return l;
        throw new Bad(what + " is a " + typeName(o) + ", not an int");
    }

    private static long[] longs(Object o, String what) {
        List<Object> l = asTuple(o, what);
        long[] out = new long[l.size()];
        for (int i = 0; i < out.length; i++) out[i] = toLong(l.get(i), what + " entry");
        return out;
    }

    // ----------------------------------------------------------------------------------------- resolution

    /** Replaces deferred torch tensors and NumPy arrays by {@link Tensor}s throughout an unpickled object. */
    static Object resolve(Path file, Object raw) throws FormatException {
        try {
            return new Resolver(file).resolve(raw, 0);
        } catch (StackOverflowError e) {
            throw new FormatException(file, "pickle nests containers too deeply");
        }
    }

    private static final class Resolver {
        private final Path file;
        private final Map<Object, Object> done = new IdentityHashMap<>();

        Resolver(Path file) {
            this.file = file;
        }

        Object resolve(Object o, int depth) throws FormatException {
            if (depth > MAX_DEPTH) {
                throw new FormatException(file, "pickle nests containers deeper than " + MAX_DEPTH);
            }
            if (o == null || o instanceof String || o instanceof Number || o instanceof Boolean
                    || o instanceof byte[] || o instanceof Global || o instanceof Tensor) {
                return o;
            }
            Object seen = done.get(o);
            if (seen != null) return seen;
            if (o instanceof DeferredTensor d) {
                Tensor t = d.materialize(file);
                done.put(o, t);
                return t;
            }
            if (o instanceof NumpyArray a) {
                Object v = a.toValue(file);
                if (v instanceof Tensor) {
                    done.put(o, v);
                    return v;
                }
                Object r = resolve(v, depth + 1); // the elements of an object or string array
                done.put(o, r);
                return r;
            }
            if (o instanceof Map<?, ?> m) {
                Map<Object, Object> out = new LinkedHashMap<>();
                done.put(o, out);
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    out.put(resolve(e.getKey(), depth + 1), resolve(e.getValue(), depth + 1));
                }
                return out;
            }
            if (o instanceof ArrayList<?> l) {
                List<Object> out = new ArrayList<>(l.size());
                done.put(o, out);
                for (Object x : l) out.add(resolve(x, depth + 1));
                return out;
            }
            if (o instanceof List<?> tupleList) {
                Object[] items = new Object[tupleList.size()];
                for (int i = 0; i < items.length; i++) items[i] = resolve(tupleList.get(i), depth + 1);
                List<Object> out = Collections.unmodifiableList(Arrays.asList(items));
                done.put(o, out);
                return out;
            }
            if (o instanceof Set<?> s) {
                Set<Object> out = new LinkedHashSet<>();
                done.put(o, out);
                for (Object x : s) out.add(resolve(x, depth + 1));
                return out;
            }
            if (o instanceof PyObject p) {
                List<Object> args = new ArrayList<>(p.args.size());
                PyObject out = new PyObject(p.type, Collections.unmodifiableList(args));
                done.put(o, out);
                for (Object x : p.args) args.add(resolve(x, depth + 1));
                out.state = resolve(p.state, depth + 1);
                return out;
            }
            return o; // storages, dtypes: kept as they are
        }
    }

    /** A torch tensor whose storage may not be filled yet: materialised by {@link #resolve}. */
    private record DeferredTensor(TorchStorage storage, long offset, long[] size, long[] stride) {
        Tensor materialize(Path file) throws FormatException {
            return storage.tensor(file, offset, size, stride);
        }
    }

    /** A NumPy dtype as pickled: its code ({@code f8}, {@code i8}...) and, after BUILD, its byte order. */
    private static final class NumpyDType {
        final String code;
        String byteOrder = "<";

        NumpyDType(String code) {
            this.code = code;
        }

        DType dtype() {
            String c = code;
            if (!c.isEmpty() && "<>=|".indexOf(c.charAt(0)) >= 0) {
                if (c.charAt(0) == '>') byteOrder = ">";
                c = c.substring(1);
            }
            DType t = switch (c) {
                case "f2" -> DType.F16;
                case "f4" -> DType.F32;
                case "f8" -> DType.F64;
                case "i1" -> DType.I8;
                case "i2" -> DType.I16;
                case "i4" -> DType.I32;
                case "i8" -> DType.I64;
                case "u1" -> DType.U8;
                case "u2" -> DType.U16;
                case "u4" -> DType.U32;
                case "u8" -> DType.U64;
                case "b1" -> DType.BOOL;
                default -> null;
            };
            if (t == null) throw new Bad("unsupported numpy dtype '" + code + "'");
            return t;
        }

        ByteBuffer littleEndian(byte[] raw, DType t) {
            if (!">".equals(byteOrder) || t.size() == 1) return ByteBuffer.wrap(raw);
            byte[] out = new byte[raw.length];
            int w = t.size();
            for (int i = 0; i < raw.length; i += w) {
                for (int j = 0; j < w; j++) out[i + j] = raw[i + w - 1 - j];
            }
            return ByteBuffer.wrap(out);
        }
    }

    /** A NumPy array between {@code _reconstruct} and its BUILD state. */
    private static final class NumpyArray {
        long[] shape;
        NumpyDType dtype;
        boolean fortran;
        byte[] data;
        List<?> objects;

        void setState(List<Object> s) {
            List<Object> st = s.size() == 5 ? s.subList(1, 5) : s;
            if (st.size() != 4) throw new Bad("numpy array state has " + s.size() + " entries");
            shape = longs(st.get(0), "numpy shape");
            if (!(st.get(1) instanceof NumpyDType d)) throw new Bad("numpy array dtype is a " + typeName(st.get(1)));
            dtype = d;
            fortran = Boolean.TRUE.equals(st.get(2)) || Long.valueOf(1).equals(st.get(2));
            Object raw = st.get(3);
            if (raw instanceof byte[] b) {
                data = b;
            } else if (raw instanceof String str) {
                data = str.getBytes(StandardCharsets.ISO_8859_1);
            } else if (raw instanceof ArrayList<?> items) {
                objects = items; // dtype object: the elements themselves, in C order
            } else {
                throw new Bad("numpy array data is a " + typeName(raw));
            }
        }

        /**
         * The array as a value: a {@link Tensor} for numeric dtypes; for one-dimensional arrays of Python objects
         * ({@code O}) or of fixed-width strings ({@code U}, {@code S}) a list of their elements.
         */
        Object toValue(Path file) throws FormatException {
            if (shape == null) throw new FormatException(file, "numpy array without state (no BUILD)");
            String code = dtype.code.replaceFirst("^[<>=|]", "");
            boolean strings = code.matches("[US][0-9]+");
            if (objects == null && !strings) {
                return toTensor(file);
            }
            if (shape.length != 1) {
                throw new FormatException(file, "numpy array of dtype '" + dtype.code + "' with shape "
                        + Arrays.toString(shape) + ": only one-dimensional arrays of objects or strings are supported");
            }
            if (objects != null) {
                if (objects.size() != shape[0]) {
                    throw new FormatException(file, "numpy object array of shape " + Arrays.toString(shape)
                            + " holds " + objects.size() + " objects");
                }
                return new ArrayList<>(objects);
            }
            boolean unicode = code.charAt(0) == 'U';
            int width = Integer.parseInt(code.substring(1));
            long itemBytes = (long) width * (unicode ? 4 : 1);
            if (itemBytes * shape[0] != data.length) {
                throw new FormatException(file, "numpy array of shape " + Arrays.toString(shape) + " and dtype "
                        + dtype.code + " needs " + itemBytes * shape[0] + " bytes but holds " + data.length);
            }
            java.nio.charset.Charset cs = !unicode ? StandardCharsets.ISO_8859_1
                    : java.nio.charset.Charset.forName(">".equals(dtype.byteOrder) || dtype.code.startsWith(">")
                    ? "UTF-32BE" : "UTF-32LE");
            List<Object> out = new ArrayList<>((int) shape[0]);
            for (int i = 0; i < shape[0]; i++) {
                String v = new String(data, (int) (i * itemBytes), (int) itemBytes, cs);
                int e = v.length();
                while (e > 0 && v.charAt(e - 1) == '\0') e--;
                out.add(v.substring(0, e));
            }
            return out;
        }

        Tensor toTensor(Path file) throws FormatException {
            if (shape == null) throw new FormatException(file, "numpy array without state (no BUILD)");
            DType t;
            try {
                t = dtype.dtype();
            } catch (Bad e) {
                throw new FormatException(file, e.getMessage());
            }
            for (long d : shape) {
                if (d < 0) throw new FormatException(file, "numpy array with negative dimension " + Arrays.toString(shape));
            }
            long numel;
            try {
                numel = Math.multiplyExact(Tensor.numel(shape), t.size());
            } catch (ArithmeticException e) {
                throw new FormatException(file, "numpy array shape " + Arrays.toString(shape) + " overflows");
            }
            if (numel != data.length) {
                throw new FormatException(file, "numpy array of shape " + Arrays.toString(shape) + " and dtype "
                        + dtype.code + " needs " + numel + " bytes but holds " + data.length);
            }
            ByteBuffer le = dtype.littleEndian(data, t);
            if (!fortran || shape.length < 2) {
                return new Tensor("array", t, shape, le);
            }
            long[] stride = new long[shape.length];
            long s = 1;
            for (int i = 0; i < shape.length; i++) {
                stride[i] = s;
                s *= shape[i];
            }
            return TorchStorage.of(t, le).tensor(file, 0, shape, stride);
        }
    }
}
