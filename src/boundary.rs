//! Crossing from JS values to bytes on the gateway thread, as cheaply as measured possible.

use std::cell::{Cell, RefCell};
use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;

thread_local! {
    /// `JSON.stringify`, cached per JS thread (each worker thread has its own env and its own function).
    static STRINGIFY: Cell<(sys::napi_env, sys::napi_ref)> = const { Cell::new((ptr::null_mut(), ptr::null_mut())) };
}

fn stringify_fn(env: sys::napi_env) -> Option<sys::napi_value> {
    unsafe {
        let (cached_env, cached_ref) = STRINGIFY.get();
        let mut f = ptr::null_mut();
        if cached_env == env
            && !cached_ref.is_null()
            && sys::napi_get_reference_value(env, cached_ref, &mut f) == sys::Status::napi_ok
            && !f.is_null()
        {
            return Some(f);
        }
        let (mut global, mut json) = (ptr::null_mut(), ptr::null_mut());
        if sys::napi_get_global(env, &mut global) != sys::Status::napi_ok
            || sys::napi_get_named_property(env, global, c"JSON".as_ptr(), &mut json) != sys::Status::napi_ok
            || sys::napi_get_named_property(env, json, c"stringify".as_ptr(), &mut f) != sys::Status::napi_ok
        {
            return None;
        }
        let mut r = ptr::null_mut();
        if sys::napi_create_reference(env, f, 1, &mut r) == sys::Status::napi_ok {
            STRINGIFY.set((env, r));
        }
        Some(f)
    }
}

/// The JSON text of a value: a string is taken as JSON text already (the plugin stringifies on the JS side, which
/// is cheaper than calling back into JS from here); anything else goes through `JSON.stringify`. `None` for what
/// has no JSON form (undefined, functions, symbols) or throws (cycles, BigInt, a throwing `toJSON`). A thrown
/// exception is cleared: the host never sees it.
pub fn stringify(env: &Env, value: &Unknown) -> Option<String> {
    let raw_env = env.raw();
    unsafe {
        let mut ty = 0;
        sys::napi_typeof(raw_env, value.raw(), &mut ty);
        if ty == sys::ValueType::napi_string {
            return read_string(raw_env, value.raw());
        }
        let f = stringify_fn(raw_env)?;
        let mut undefined = ptr::null_mut();
        sys::napi_get_undefined(raw_env, &mut undefined);
        let args = [value.raw()];
        let mut out = ptr::null_mut();
        let status = sys::napi_call_function(raw_env, undefined, f, 1, args.as_ptr(), &mut out);
        if status != sys::Status::napi_ok {
            let mut pending = false;
            sys::napi_is_exception_pending(raw_env, &mut pending);
            if pending {
                let mut exc = ptr::null_mut();
                sys::napi_get_and_clear_last_exception(raw_env, &mut exc);
            }
            return None;
        }
        let mut ty = 0;
        sys::napi_typeof(raw_env, out, &mut ty);
        if ty != sys::ValueType::napi_string {
            return None;
        }
        read_string(raw_env, out)
    }
}

/// A JS string as UTF-8 (V8 hands out valid UTF-8: lone surrogates become U+FFFD), in one pass straight into the
/// `String` it becomes. The length in UTF-16 units is known without reading the string, and UTF-8 needs at most
/// 3 bytes per unit (a surrogate pair: 4 bytes for 2 units; a lone surrogate: the 3 bytes of U+FFFD), so a buffer
/// of that size is never too short; what is left over goes back to the allocator. Measuring the UTF-8 length
/// first would read the whole string twice.
pub unsafe fn read_string(raw_env: sys::napi_env, value: sys::napi_value) -> Option<String> {
    unsafe {
        let mut units = 0usize;
        if sys::napi_get_value_string_utf16(raw_env, value, ptr::null_mut(), 0, &mut units) != sys::Status::napi_ok {
            return None;
        }
        // One more byte for the NUL V8 always writes.
        let cap = units.checked_mul(3)?.checked_add(1)?;
        let mut buf: Vec<u8> = Vec::with_capacity(cap);
        let mut written = 0usize;
        if sys::napi_get_value_string_utf8(raw_env, value, buf.as_mut_ptr().cast(), cap, &mut written)
            != sys::Status::napi_ok
        {
            return None;
        }
        buf.set_len(written);
        // Queued text is held until the worker takes it: give back what non-ASCII text did not use.
        if buf.capacity() > 2 * written + 64 {
            buf.shrink_to_fit();
        }
        String::from_utf8(buf).ok()
    }
}

/// A JS string's UTF-16 code units, copied as V8 holds them (a one-byte string is widened unit by unit): no
/// transcoding on the gateway's thread, into `buf` (its memory reused). False for what is no string.
pub unsafe fn read_utf16(raw_env: sys::napi_env, value: sys::napi_value, buf: &mut Vec<u16>) -> bool {
    unsafe {
        let mut ty = 0;
        if sys::napi_typeof(raw_env, value, &mut ty) != sys::Status::napi_ok || ty != sys::ValueType::napi_string {
            return false;
        }
        let mut units = 0usize;
        if sys::napi_get_value_string_utf16(raw_env, value, ptr::null_mut(), 0, &mut units) != sys::Status::napi_ok {
            return false;
        }
        // One more unit for the NUL V8 always writes.
        buf.clear();
        buf.reserve(units + 1);
        let mut written = 0usize;
        if sys::napi_get_value_string_utf16(raw_env, value, buf.as_mut_ptr(), units + 1, &mut written)
            != sys::Status::napi_ok
            || written != units
        {
            return false;
        }
        buf.set_len(written);
        true
    }
}

/// An element type of a typed array the boundary copies.
pub trait Element: Copy {
    const TYPE: sys::napi_typedarray_type;
}
impl Element for f64 {
    const TYPE: sys::napi_typedarray_type = sys::TypedarrayType::float64_array;
}
impl Element for u16 {
    const TYPE: sys::napi_typedarray_type = sys::TypedarrayType::uint16_array;
}

/// The first `n` elements of a typed array of `T`, copied in one `memcpy` into `buf` (its memory reused). False
/// when `value` is not one, or is shorter.
pub unsafe fn typed_array<T: Element>(
    raw_env: sys::napi_env,
    value: sys::napi_value,
    n: usize,
    buf: &mut Vec<T>,
) -> bool {
    unsafe {
        let mut is = false;
        if sys::napi_is_typedarray(raw_env, value, &mut is) != sys::Status::napi_ok || !is {
            return false;
        }
        let (mut ty, mut len, mut data) = (0, 0usize, ptr::null_mut());
        let (mut buffer, mut offset) = (ptr::null_mut(), 0usize);
        if sys::napi_get_typedarray_info(raw_env, value, &mut ty, &mut len, &mut data, &mut buffer, &mut offset)
            != sys::Status::napi_ok
            || ty != T::TYPE
            || len < n
        {
            return false;
        }
        buf.clear();
        if n == 0 {
            return true;
        }
        if data.is_null() {
            return false;
        }
        // A typed array's data is aligned to its element size (its byte offset must be a multiple of it).
        buf.extend_from_slice(std::slice::from_raw_parts(data.cast::<T>(), n));
        true
    }
}

thread_local! {
    /// The functions `flush()` and `shutdown()` call first (`setBatchDrain`): the plugin's hot path holds events on
    /// the JS thread until its batch crosses (`plugin/hotpath.mjs`), and a flush must see them.
    static DRAINS: RefCell<Vec<(sys::napi_env, sys::napi_ref)>> = const { RefCell::new(Vec::new()) };
}

/// Each copy of the plugin's module registers its own drain (OpenClaw loads fresh copies): a few, oldest out.
const MAX_DRAINS: usize = 8;

/// Registers `f` (once, however often it is given) to be called before every flush and shutdown.
pub fn add_drain(env: &Env, f: &Unknown) -> bool {
    let raw = env.raw();
    unsafe {
        let mut ty = 0;
        if sys::napi_typeof(raw, f.raw(), &mut ty) != sys::Status::napi_ok || ty != sys::ValueType::napi_function {
            return false;
        }
        DRAINS.with(|d| {
            let Ok(mut d) = d.try_borrow_mut() else { return false };
            for (e, r) in d.iter() {
                let mut v = ptr::null_mut();
                let mut same = false;
                if *e == raw
                    && sys::napi_get_reference_value(raw, *r, &mut v) == sys::Status::napi_ok
                    && !v.is_null()
                    && sys::napi_strict_equals(raw, v, f.raw(), &mut same) == sys::Status::napi_ok
                    && same
                {
                    return true;
                }
            }
            if d.len() >= MAX_DRAINS {
                let (e, old) = d.remove(0);
                if e == raw {
                    sys::napi_delete_reference(raw, old);
                }
            }
            let mut r = ptr::null_mut();
            if sys::napi_create_reference(raw, f.raw(), 1, &mut r) != sys::Status::napi_ok {
                return false;
            }
            d.push((raw, r));
            true
        })
    }
}

/// Calls every registered drain; what one throws is cleared (the host never sees it).
pub fn run_drains(env: &Env) {
    let raw = env.raw();
    // Taken out first: a drain calls back into the addon (`recordDiagnosticBatch`), never under this borrow.
    let fns: Vec<sys::napi_value> = DRAINS.with(|d| {
        let Ok(d) = d.try_borrow() else { return Vec::new() };
        d.iter()
            .filter(|(e, _)| *e == raw)
            .filter_map(|(_, r)| {
                let mut v = ptr::null_mut();
                let ok = unsafe { sys::napi_get_reference_value(raw, *r, &mut v) } == sys::Status::napi_ok;
                (ok && !v.is_null()).then_some(v)
            })
            .collect()
    });
    for f in fns {
        unsafe {
            let mut undefined = ptr::null_mut();
            sys::napi_get_undefined(raw, &mut undefined);
            let mut out = ptr::null_mut();
            if sys::napi_call_function(raw, undefined, f, 0, ptr::null(), &mut out) != sys::Status::napi_ok {
                let mut exc = ptr::null_mut();
                sys::napi_get_and_clear_last_exception(raw, &mut exc);
            }
        }
    }
}

/// `meta.trusted === true` (or `meta === true`), without throwing on odd metadata.
pub fn read_trusted(env: &Env, meta: &Unknown) -> bool {
    let raw_env = env.raw();
    unsafe {
        let mut ty = 0;
        sys::napi_typeof(raw_env, meta.raw(), &mut ty);
        if ty == sys::ValueType::napi_boolean {
            // The plugin's fast path passes `meta.trusted` itself.
            let mut b = false;
            return sys::napi_get_value_bool(raw_env, meta.raw(), &mut b) == sys::Status::napi_ok && b;
        }
        if ty != sys::ValueType::napi_object {
            return false;
        }
        let mut v = ptr::null_mut();
        if sys::napi_get_named_property(raw_env, meta.raw(), c"trusted".as_ptr(), &mut v) != sys::Status::napi_ok {
            let mut exc = ptr::null_mut();
            sys::napi_get_and_clear_last_exception(raw_env, &mut exc);
            return false;
        }
        let mut b = false;
        sys::napi_get_value_bool(raw_env, v, &mut b) == sys::Status::napi_ok && b
    }
}

pub fn now_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

/// A JS number as JSON would parse it (integral values integers: counts in a configuration deserialise as such):
/// the core's, which the compact crossing uses for event fields too.
pub use clawtrace_core::ingest::compact::json_number;
