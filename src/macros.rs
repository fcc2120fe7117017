//! Boilerplate shared by the data-owning locks.

/// `Default`, `From<T>` and a non-blocking `Debug` for a lock type with
/// `new(T)` and `try_read()`.
macro_rules! data_lock_impls {
    ($lock:ident) => {
        impl<T: Default, P: Policy> Default for $lock<T, P> {
            fn default() -> Self {
                $lock::new(T::default())
            }
        }

        impl<T, P: Policy> From<T> for $lock<T, P> {
            fn from(value: T) -> Self {
                $lock::new(value)
            }
        }

        impl<T: ?Sized + fmt::Debug, P: Policy> fmt::Debug for $lock<T, P> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut d = f.debug_struct(stringify!($lock));
                match self.try_read() {
                    Some(g) => d.field("data", &&*g),
                    None => d.field("data", &format_args!("<locked>")),
                };
                d.finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use data_lock_impls;
