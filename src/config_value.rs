//! The `configure()` argument as JSON, checked value by value on the way in. napi-rs's own conversion turns a
//! `Map` or a `Date` into `{}`, fails on `NaN` with "Failed to convert js number…" and names no field; here every
//! refusal names the field and what was found there — never the value, which may be a credential.

use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;
use serde_json::{Map, Value};

use crate::boundary::{json_number as number, read_string};

/// Deeper than any configuration: a cycle or a hostile object stops here.
const MAX_DEPTH: usize = 32;

/// `undefined` and `null` mean "no configuration" (`{}`); anything else is converted or refused.
pub fn config_json(env: &Env, value: &Unknown) -> std::result::Result<Value, String> {
    let out = unsafe { convert(env.raw(), value.raw(), "", 0) };
    clear_exception(env.raw());
    match out {
        Ok(None) | Ok(Some(Value::Null)) => Ok(Value::Object(Map::new())),
        Ok(Some(v)) => Ok(v),
        Err(e) => Err(format!("invalid clawtrace config: {e}")),
    }
}

fn field(path: &str) -> &str {
    if path.is_empty() {
        "the configuration"
    } else {
        path
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn clear_exception(env: sys::napi_env) {
    unsafe {
        let mut pending = false;
        sys::napi_is_exception_pending(env, &mut pending);
        if pending {
            let mut exc = ptr::null_mut();
            sys::napi_get_and_clear_last_exception(env, &mut exc);
        }
    }
}

/// `Ok(None)` for `undefined` (the field is left out, as `JSON.stringify` would).
unsafe fn convert(
    env: sys::napi_env,
    v: sys::napi_value,
    path: &str,
    depth: usize,
) -> std::result::Result<Option<Value>, String> {
    if depth > MAX_DEPTH {
        return Err(format!("{}: nested too deeply", field(path)));
    }
    let mut ty = 0;
    if unsafe { sys::napi_typeof(env, v, &mut ty) } != sys::Status::napi_ok {
        return Err(format!("{}: unreadable value", field(path)));
    }
    let refuse = |what: &str| Err(format!("{}: expected a plain value or object, got {what}", field(path)));
    match ty {
        sys::ValueType::napi_undefined => Ok(None),
        sys::ValueType::napi_null => Ok(Some(Value::Null)),
        sys::ValueType::napi_boolean => {
            let mut b = false;
            unsafe { sys::napi_get_value_bool(env, v, &mut b) };
            Ok(Some(Value::Bool(b)))
        }
        sys::ValueType::napi_number => {
            let mut f = 0.0;
            unsafe { sys::napi_get_value_double(env, v, &mut f) };
            if !f.is_finite() {
                return Err(format!(
                    "{}: expected a finite number, got {}",
                    field(path),
                    if f.is_nan() { "NaN" } else { "Infinity" }
                ));
            }
            Ok(Some(number(f)))
        }
        sys::ValueType::napi_string => match unsafe { read_string(env, v) } {
            Some(s) => Ok(Some(Value::String(s))),
            None => Err(format!("{}: unreadable string", field(path))),
        },
        sys::ValueType::napi_bigint => refuse("a BigInt"),
        sys::ValueType::napi_symbol => refuse("a Symbol"),
        sys::ValueType::napi_function => refuse("a function"),
        sys::ValueType::napi_object => unsafe { convert_object(env, v, path, depth) },
        _ => refuse("an external value"),
    }
}

unsafe fn convert_object(
    env: sys::napi_env,
    v: sys::napi_value,
    path: &str,
    depth: usize,
) -> std::result::Result<Option<Value>, String> {
    let unreadable = || {
        clear_exception(env);
        Err(format!("{}: could not be read (a getter or proxy threw)", field(path)))
    };
    let mut is = false;
    unsafe { sys::napi_is_array(env, v, &mut is) };
    if is {
        let mut len = 0u32;
        if unsafe { sys::napi_get_array_length(env, v, &mut len) } != sys::Status::napi_ok {
            return unreadable();
        }
        let mut out = Vec::new();
        for i in 0..len.min(10_000) {
            let mut item = ptr::null_mut();
            if unsafe { sys::napi_get_element(env, v, i, &mut item) } != sys::Status::napi_ok {
                return unreadable();
            }
            out.push(unsafe { convert(env, item, &format!("{path}[{i}]"), depth + 1) }?.unwrap_or(Value::Null));
        }
        return Ok(Some(Value::Array(out)));
    }
    unsafe { sys::napi_is_date(env, v, &mut is) };
    if is {
        return Err(format!("{}: expected a plain value or object, got a Date", field(path)));
    }
    match unsafe { plain_object(env, v) } {
        Some(true) => {}
        // A plain object from another realm (a `vm` context) has that realm's `Object.prototype`.
        Some(false) if unsafe { constructor_name(env, v) }.as_deref() == Some("Object") => {}
        Some(false) => {
            return Err(format!(
                "{}: expected a plain object, got {}",
                field(path),
                unsafe { constructor_name(env, v) }
                    .map_or("an object of another kind".to_string(), |n| format!("a {n}"))
            ))
        }
        None => return unreadable(),
    }
    let mut keys = ptr::null_mut();
    if unsafe {
        sys::napi_get_all_property_names(
            env,
            v,
            sys::KeyCollectionMode::own_only,
            sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
            sys::KeyConversion::numbers_to_strings,
            &mut keys,
        )
    } != sys::Status::napi_ok
    {
        return unreadable();
    }
    let mut len = 0u32;
    if unsafe { sys::napi_get_array_length(env, keys, &mut len) } != sys::Status::napi_ok {
        return unreadable();
    }
    let mut out = Map::new();
    for i in 0..len.min(10_000) {
        let (mut key, mut item) = (ptr::null_mut(), ptr::null_mut());
        if unsafe { sys::napi_get_element(env, keys, i, &mut key) } != sys::Status::napi_ok {
            return unreadable();
        }
        let Some(name) = (unsafe { read_string(env, key) }) else { return unreadable() };
        let here = child(path, &name);
        if unsafe { sys::napi_get_property(env, v, key, &mut item) } != sys::Status::napi_ok {
            clear_exception(env);
            return Err(format!("{here}: could not be read (a getter or proxy threw)"));
        }
        if let Some(value) = unsafe { convert(env, item, &here, depth + 1) }? {
            out.insert(name, value);
        }
    }
    Ok(Some(Value::Object(out)))
}

/// Whether the object's prototype is `Object.prototype` or `null` (a `Map`, a class instance or a boxed
/// primitive is not); `None` when asking threw (a proxy).
unsafe fn plain_object(env: sys::napi_env, v: sys::napi_value) -> Option<bool> {
    unsafe {
        let (mut proto, mut global, mut object, mut object_proto, mut null) =
            (ptr::null_mut(), ptr::null_mut(), ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
        if sys::napi_get_prototype(env, v, &mut proto) != sys::Status::napi_ok {
            return None;
        }
        sys::napi_get_null(env, &mut null);
        let mut same = false;
        sys::napi_strict_equals(env, proto, null, &mut same);
        if same {
            return Some(true);
        }
        if sys::napi_get_global(env, &mut global) != sys::Status::napi_ok
            || sys::napi_get_named_property(env, global, c"Object".as_ptr(), &mut object) != sys::Status::napi_ok
            || sys::napi_get_named_property(env, object, c"prototype".as_ptr(), &mut object_proto)
                != sys::Status::napi_ok
        {
            return None;
        }
        sys::napi_strict_equals(env, proto, object_proto, &mut same);
        Some(same)
    }
}

/// `value.constructor.name` when it is a short identifier (`Map`, `Set`, `URL`), for the message.
unsafe fn constructor_name(env: sys::napi_env, v: sys::napi_value) -> Option<String> {
    unsafe {
        let (mut ctor, mut name) = (ptr::null_mut(), ptr::null_mut());
        if sys::napi_get_named_property(env, v, c"constructor".as_ptr(), &mut ctor) != sys::Status::napi_ok
            || sys::napi_get_named_property(env, ctor, c"name".as_ptr(), &mut name) != sys::Status::napi_ok
        {
            clear_exception(env);
            return None;
        }
        let mut ty = 0;
        sys::napi_typeof(env, name, &mut ty);
        if ty != sys::ValueType::napi_string {
            return None;
        }
        read_string(env, name)
            .filter(|n| !n.is_empty() && n.len() <= 32 && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    }
}
