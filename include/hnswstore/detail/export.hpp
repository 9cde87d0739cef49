// HNSWSTORE_API marks the declarations a shared libhnswstore exports; everything else,
// hnswlib included, is built with hidden visibility and stays inside the library.
#pragma once

#if defined(_WIN32)
#if defined(HNSWSTORE_BUILDING) && defined(HNSWSTORE_SHARED)
#define HNSWSTORE_API __declspec(dllexport)
#elif defined(HNSWSTORE_SHARED)
#define HNSWSTORE_API __declspec(dllimport)
#else
#define HNSWSTORE_API
#endif
#elif defined(__GNUC__)
#define HNSWSTORE_API [[gnu::visibility("default")]]
#else
#define HNSWSTORE_API
#endif
