;; A minimal hand-written component exporting
;;
;;     greet: func(name: string) -> string
;;
;; which returns "Hello, <name>!".
;;
;; Run it with:
;;
;;     python -m wasmcomponent run --invoke 'greet("world")' examples/hello.wat
;;
;; How the Canonical ABI maps this signature onto core wasm:
;;
;; * A `string` parameter flattens to two i32s: a pointer into linear memory
;;   and a length in bytes (string-encoding=utf8).  Before the call the host
;;   asks the guest for that memory through `cabi_realloc`.
;; * A `string` result also flattens to two values, but a core function may
;;   return at most one flat value, so the core function returns a single i32:
;;   the address of an 8-byte, 4-aligned area holding (pointer, length).
;;   The host lifts the string from there.
;; * After lifting, the host calls the `post-return` function, which here
;;   resets the bump allocator so memory is reused by the next call.
(component
  (core module $impl
    (memory (export "memory") 1)

    ;; The greeting pieces, placed in the first 64 bytes.
    (data (i32.const 0) "Hello, ")  ;; 7 bytes at 0
    (data (i32.const 8) "!")        ;; 1 byte at 8

    ;; Bump allocator: everything above 1024 is heap.
    (global $heap_start i32 (i32.const 1024))
    (global $next (mut i32) (i32.const 1024))

    ;; cabi_realloc(old_ptr, old_size, align, new_size) -> ptr
    ;; Only fresh allocations (old_ptr = 0) are needed by this component;
    ;; it never shrinks or grows a block, so old blocks are simply abandoned.
    (func $realloc (export "cabi_realloc")
      (param $old_ptr i32) (param $old_size i32) (param $align i32) (param $new_size i32)
      (result i32)
      (local $ptr i32)
      ;; Round the bump pointer up to `align` (a power of two).
      (local.set $ptr
        (i32.and
          (i32.add (global.get $next) (i32.sub (local.get $align) (i32.const 1)))
          (i32.sub (i32.const 0) (local.get $align))))
      (global.set $next (i32.add (local.get $ptr) (local.get $new_size)))
      ;; Grow memory by whole pages until the block fits.
      (block $done
        (loop $grow
          (br_if $done
            (i32.le_u (global.get $next)
                      (i32.mul (memory.size) (i32.const 65536))))
          (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
            (then unreachable))
          (br $grow)))
      (local.get $ptr))

    ;; greet(name_ptr, name_len) -> retptr
    (func (export "greet") (param $name_ptr i32) (param $name_len i32) (result i32)
      (local $out i32) (local $out_len i32) (local $ret i32)
      ;; "Hello, " + name + "!"
      (local.set $out_len (i32.add (local.get $name_len) (i32.const 8)))
      (local.set $out
        (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (local.get $out_len)))
      (memory.copy (local.get $out) (i32.const 0) (i32.const 7))
      (memory.copy
        (i32.add (local.get $out) (i32.const 7)) (local.get $name_ptr) (local.get $name_len))
      (memory.copy
        (i32.add (i32.add (local.get $out) (i32.const 7)) (local.get $name_len))
        (i32.const 8) (i32.const 1))
      ;; The return area: (pointer, length) as two little-endian i32s.
      (local.set $ret
        (call $realloc (i32.const 0) (i32.const 0) (i32.const 4) (i32.const 8)))
      (i32.store (local.get $ret) (local.get $out))
      (i32.store offset=4 (local.get $ret) (local.get $out_len))
      (local.get $ret))

    ;; post-return receives greet's core results; it frees everything at once.
    (func (export "greet-post-return") (param $retptr i32)
      (global.set $next (global.get $heap_start)))
  )
  (core instance $i (instantiate $impl))

  (func (export "greet") (param "name" string) (result string)
    (canon lift
      (core func $i "greet")
      (memory (core memory $i "memory"))
      (realloc (core func $i "cabi_realloc"))
      string-encoding=utf8
      (post-return (core func $i "greet-post-return"))))
)
