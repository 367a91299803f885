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

thread_local! {
    /// Where `read_string` has V8 write a string's UTF-8 in one pass (one per thread: the gateway's, workers').
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Strings shorter than this (every event but the rarest) cross in one pass: V8 writes the UTF-8 into the scratch
/// buffer while measuring it, then one `memcpy` makes the `String`. Longer ones take two passes (measure, write).
const SCRATCH_BYTES: usize = 64 << 10;

/// A JS string as UTF-8 (V8 hands out valid UTF-8: lone surrogates become U+FFFD).
pub unsafe fn read_string(raw_env: sys::napi_env, out: sys::napi_value) -> Option<String> {
    let one_pass = SCRATCH.with(|scratch| {
        let mut buf = scratch.try_borrow_mut().ok()?;
        if buf.capacity() < SCRATCH_BYTES {
            buf.reserve_exact(SCRATCH_BYTES);
        }
        let cap = buf.capacity();
        let mut written = 0usize;
        let status =
            unsafe { sys::napi_get_value_string_utf8(raw_env, out, buf.as_mut_ptr().cast(), cap, &mut written) };
        if status != sys::Status::napi_ok {
            return Some(None);
        }
        // V8 stops before a character that does not fit (up to 4 bytes) and keeps a byte for the NUL: this close to
        // the end the string may have been cut, so it goes the exact way.
        if written + 4 >= cap {
            return None;
        }
        let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr(), written) };
        Some(std::str::from_utf8(bytes).ok().map(str::to_owned))
    });
    match one_pass {
        Some(s) => s,
        None => unsafe { read_string_two_pass(raw_env, out) },
    }
}

unsafe fn read_string_two_pass(raw_env: sys::napi_env, out: sys::napi_value) -> Option<String> {
    unsafe {
        let mut len = 0usize;
        if sys::napi_get_value_string_utf8(raw_env, out, ptr::null_mut(), 0, &mut len) != sys::Status::napi_ok {
            return None;
        }
        let mut buf: Vec<u8> = Vec::with_capacity(len + 1);
        let mut written = 0usize;
        if sys::napi_get_value_string_utf8(raw_env, out, buf.as_mut_ptr().cast(), len + 1, &mut written)
            != sys::Status::napi_ok
        {
            return None;
        }
        buf.set_len(written);
        String::from_utf8(buf).ok()
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

/// A JS number as JSON would parse it: integral values become integers (so `seq` stays a `u64` for the decoder
/// and counts in a configuration deserialise as integers).
pub fn json_number(f: f64) -> serde_json::Value {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        if f >= 0.0 {
            (f as u64).into()
        } else {
            (f as i64).into()
        }
    } else {
        serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}
