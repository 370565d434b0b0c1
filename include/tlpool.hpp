/* SPDX-License-Identifier: MIT */
/*
 * tlpool.hpp — a header-only C++17 layer over tlpool.h (link tlpool as usual).
 *
 *     struct request { std::string path; void reset() { path.clear(); } };
 *     tlp::pool_options o;
 *     o.drain_ms = 1000;
 *     o.name = "requests";
 *     tlp::pool<request> requests(o);
 *     auto r = requests.get();          // tlp::pool<request>::handle
 *     r->path = "/";                    // put back when r goes out of scope
 *
 * tlp::pool<T> keeps constructed objects: T is default-constructed when the
 * pool makes an object (obj_new) and destroyed when the pool releases one
 * (obj_free), not on every get/put. If T has a member reset(), it runs on
 * every put (obj_reset); when it returns bool, false drops the object instead
 * of keeping it. A T without reset() takes the inline put.
 *
 * Errors are exceptions:
 *   - the constructors throw std::system_error with the errno value as a
 *     std::generic_category() code (EINVAL for a bad option, ENOMEM);
 *   - get() throws what T's constructor threw, or std::bad_alloc when memory
 *     ran out; try_get() returns an empty handle instead and never throws.
 * Nothing else throws. A reset() that throws drops the object (the exception
 * cannot cross the C library): keep reset() noexcept.
 *
 * tlp::buffer is an owning, move-only buffer from a buffer pool (the default
 * one unless given a tlp::buffer_pool), freed when it goes out of scope.
 *
 * As with the C API, a pool (or buffer pool) must outlive every handle and
 * buffer taken from it.
 */
#ifndef TLPOOL_HPP
#define TLPOOL_HPP

#include "tlpool.h"

#include <cerrno>
#include <cstddef>
#include <exception>
#include <memory>
#include <new>
#include <system_error>
#include <type_traits>
#include <utility>

namespace tlp {

namespace detail {

template <class U, class = void>
struct has_reset : std::false_type {};
template <class U>
struct has_reset<U, std::void_t<decltype(std::declval<U &>().reset())>> : std::true_type {};

[[noreturn]] inline void throw_errno(int err, const char *what)
{
    throw std::system_error(std::error_code(err, std::generic_category()), what);
}

/* What T's constructor threw in obj_new, for get() to rethrow in the same
 * thread (obj_new runs inside the calling thread's tlp_get). */
inline std::exception_ptr &pending_exception() noexcept
{
    static thread_local std::exception_ptr e;
    return e;
}

} // namespace detail

/* The optional fields of tlp_config; obj_size and the hooks come from T. */
struct pool_options {
    unsigned thread_cache = 0; /* 0 = default (128) */
    unsigned shards = 0;       /* 0 = default from the CPU count */
    std::size_t max_idle = 0;  /* cap on the shared tier; 0 = none */
    unsigned drain_ms = 0;     /* > 0: drained by the background drainer */
    const char *name = nullptr;
    unsigned leak_sample = 0;  /* leak tracking (tlp_config.leak_sample): 0 off, 1 all, N one in N */
};

template <class T>
class pool {
    static_assert(std::is_default_constructible<T>::value, "tlp::pool<T> default-constructs T");
    static_assert(alignof(T) <= TLP_MAX_ALIGN, "alignof(T) above TLP_MAX_ALIGN");

public:
    /* Puts the object back into its pool (a no-op for nullptr). */
    class deleter {
    public:
        deleter() noexcept = default;
        explicit deleter(tlp_pool *p) noexcept : pool_(p) {}
        void operator()(T *obj) const noexcept { tlp_put(pool_, obj); }
        tlp_pool *native() const noexcept { return pool_; }

    private:
        tlp_pool *pool_ = nullptr;
    };
    using handle = std::unique_ptr<T, deleter>;

    explicit pool(const pool_options &o = pool_options())
    {
        tlp_config cfg{};
        cfg.obj_size = sizeof(T);
        cfg.obj_align = alignof(T);
        cfg.obj_new = &make;
        cfg.obj_free = &release;
        if constexpr (detail::has_reset<T>::value)
            cfg.obj_reset = &reset;
        cfg.thread_cache = o.thread_cache;
        cfg.shards = o.shards;
        cfg.max_idle = o.max_idle;
        cfg.drain_ms = o.drain_ms;
        cfg.name = o.name;
        cfg.leak_sample = o.leak_sample;
        int err = tlp_pool_create(&cfg, &pool_);
        if (err)
            detail::throw_errno(err, "tlp_pool_create");
    }
    ~pool() { tlp_pool_destroy(pool_); }

    pool(const pool &) = delete;
    pool &operator=(const pool &) = delete;
    pool(pool &&o) noexcept : pool_(std::exchange(o.pool_, nullptr)) {}
    pool &operator=(pool &&o) noexcept
    {
        if (this != &o) {
            tlp_pool_destroy(pool_);
            pool_ = std::exchange(o.pool_, nullptr);
        }
        return *this;
    }

    /* An object, put back when the handle is destroyed or reset. Throws what
     * T() threw, or std::bad_alloc. */
    handle get()
    {
        T *obj = static_cast<T *>(tlp_get(pool_));
        if (!obj) {
            std::exception_ptr e = std::exchange(detail::pending_exception(), nullptr);
            if (e)
                std::rethrow_exception(e);
            throw std::bad_alloc();
        }
        return handle(obj, deleter(pool_));
    }

    /* As get(), but an empty handle where get() would throw. */
    handle try_get() noexcept
    {
        T *obj = static_cast<T *>(tlp_get(pool_));
        if (!obj)
            detail::pending_exception() = nullptr;
        return handle(obj, deleter(pool_));
    }

    /* The C calls on this pool. */
    void drain() noexcept { tlp_drain(pool_); }
    void release_idle() noexcept { tlp_release_idle(pool_); }
    tlp_stats stats() const noexcept
    {
        tlp_stats st;
        tlp_stats_get(pool_, &st);
        return st;
    }
    tlp_pool *native() const noexcept { return pool_; }

private:
    static void *make(void *) noexcept
    {
        void *mem = ::operator new(sizeof(T), std::align_val_t(alignof(T)), std::nothrow);
        if (!mem)
            return nullptr;
        try {
            return ::new (mem) T();
        } catch (...) {
            ::operator delete(mem, std::align_val_t(alignof(T)));
            detail::pending_exception() = std::current_exception();
            return nullptr;
        }
    }
    static void release(void *obj, void *) noexcept
    {
        static_cast<T *>(obj)->~T();
        ::operator delete(obj, std::align_val_t(alignof(T)));
    }
    static bool reset(void *obj, void *) noexcept
    {
        try {
            if constexpr (std::is_convertible<decltype(std::declval<T &>().reset()), bool>::value &&
                          !std::is_void<decltype(std::declval<T &>().reset())>::value) {
                return static_cast<bool>(static_cast<T *>(obj)->reset());
            } else {
                static_cast<T *>(obj)->reset();
                return true;
            }
        } catch (...) {
            return false;
        }
    }

    tlp_pool *pool_ = nullptr;
};

/* The fields of tlp_bufpool_config. */
struct buffer_pool_options {
    std::size_t min_class = 0;
    std::size_t max_class = 0;
    unsigned thread_cache = 0;
    unsigned drain_ms = 0;
    std::size_t max_idle_bytes = 0;
    bool zero_on_free = false;
    const char *name = nullptr;
};

/* An owned buffer pool (tlp_bufpool_create / tlp_bufpool_destroy). */
class buffer_pool {
public:
    explicit buffer_pool(const buffer_pool_options &o = buffer_pool_options())
    {
        tlp_bufpool_config cfg{};
        cfg.min_class = o.min_class;
        cfg.max_class = o.max_class;
        cfg.thread_cache = o.thread_cache;
        cfg.drain_ms = o.drain_ms;
        cfg.max_idle_bytes = o.max_idle_bytes;
        cfg.zero_on_free = o.zero_on_free;
        cfg.name = o.name;
        int err = tlp_bufpool_create(&cfg, &bp_);
        if (err)
            detail::throw_errno(err, "tlp_bufpool_create");
    }
    ~buffer_pool() { tlp_bufpool_destroy(bp_); }
    buffer_pool(const buffer_pool &) = delete;
    buffer_pool &operator=(const buffer_pool &) = delete;

    void drain() noexcept { tlp_bufpool_drain(bp_); }
    void release_idle() noexcept { tlp_bufpool_release_idle(bp_); }
    tlp_bufpool_stats stats() const noexcept
    {
        tlp_bufpool_stats st;
        tlp_bufpool_stats_get(bp_, &st);
        return st;
    }
    tlp_bufpool *native() const noexcept { return bp_; }

private:
    tlp_bufpool *bp_ = nullptr;
};

/*
 * A move-only buffer of size() bytes (capacity() may be larger: the class
 * size), freed into its pool on destruction. Throws std::bad_alloc when
 * memory runs out.
 */
class buffer {
public:
    buffer() noexcept = default;
    /* From the default buffer pool. */
    explicit buffer(std::size_t n) : buffer(tlp_bufpool_default(), n) {}
    buffer(buffer_pool &bp, std::size_t n) : buffer(bp.native(), n) {}
    ~buffer() { free(); }

    buffer(buffer &&o) noexcept
        : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), bp_(o.bp_)
    {
    }
    buffer &operator=(buffer &&o) noexcept
    {
        if (this != &o) {
            free();
            data_ = std::exchange(o.data_, nullptr);
            size_ = std::exchange(o.size_, 0);
            bp_ = o.bp_;
        }
        return *this;
    }
    buffer(const buffer &) = delete;
    buffer &operator=(const buffer &) = delete;

    char *data() noexcept { return data_; }
    const char *data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return data_ ? tlp_bufpool_size(bp_, data_) : 0; }
    explicit operator bool() const noexcept { return data_ != nullptr; }
    char &operator[](std::size_t i) noexcept { return data_[i]; }
    const char &operator[](std::size_t i) const noexcept { return data_[i]; }

    /* Grows or shrinks keeping the first min(old, n) bytes (realloc); in
     * place while the class fits. On failure the buffer is unchanged. */
    void resize(std::size_t n)
    {
        if (!bp_)
            bp_ = tlp_bufpool_default();
        void *p = tlp_bufpool_realloc(bp_, data_, n);
        if (!p && n != 0)
            throw std::bad_alloc();
        data_ = static_cast<char *>(p);
        size_ = p ? n : 0;
    }

    /* Ownership leaves: free the result with tlp_bufpool_free(pool, p)
     * (tlp_buf_free for the default pool). */
    char *release() noexcept
    {
        size_ = 0;
        return std::exchange(data_, nullptr);
    }

private:
    buffer(tlp_bufpool *bp, std::size_t n) : bp_(bp)
    {
        if (!bp_)
            throw std::bad_alloc(); /* the default pool could not be made */
        data_ = static_cast<char *>(tlp_bufpool_alloc(bp_, n));
        if (!data_)
            throw std::bad_alloc();
        size_ = n;
    }
    void free() noexcept
    {
        if (data_)
            tlp_bufpool_free(bp_, data_);
        data_ = nullptr;
        size_ = 0;
    }

    char *data_ = nullptr;
    std::size_t size_ = 0;
    tlp_bufpool *bp_ = nullptr;
};

} // namespace tlp

#endif /* TLPOOL_HPP */
