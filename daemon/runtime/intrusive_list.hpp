// SPDX-License-Identifier: MIT
// intrusive_list.hpp — a doubly linked list whose nodes live inside the
// elements, so linking and unlinking never allocate. An element is in at most
// one list per node base. Not thread-safe.
#pragma once

#include <cstddef>

namespace aiod::daemon {

template <class T>
class IntrusiveList;

template <class T>
class IntrusiveListNode {
 public:
  IntrusiveListNode() = default;
  IntrusiveListNode(const IntrusiveListNode&) = delete;
  IntrusiveListNode& operator=(const IntrusiveListNode&) = delete;
  [[nodiscard]] bool linked() const noexcept { return list_ != nullptr; }

 protected:
  ~IntrusiveListNode() {
    if (list_ != nullptr) list_->remove(static_cast<T&>(*this));
  }

 private:
  friend class IntrusiveList<T>;
  T* prev_ = nullptr;
  T* next_ = nullptr;
  IntrusiveList<T>* list_ = nullptr;
};

template <class T>
class IntrusiveList {
  using Node = IntrusiveListNode<T>;

 public:
  IntrusiveList() = default;
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;
  ~IntrusiveList() {
    while (head_ != nullptr) remove(*head_);
  }

  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] T* front() const noexcept { return head_; }
  [[nodiscard]] static T* next(const T& item) noexcept { return node(item).next_; }

  void push_back(T& item) noexcept {
    Node& n = node(item);
    n.list_ = this;
    n.prev_ = tail_;
    n.next_ = nullptr;
    if (tail_ != nullptr) {
      node(*tail_).next_ = &item;
    } else {
      head_ = &item;
    }
    tail_ = &item;
    ++size_;
  }

  void remove(T& item) noexcept {
    Node& n = node(item);
    if (n.list_ != this) return;
    if (n.prev_ != nullptr)
      node(*n.prev_).next_ = n.next_;
    else
      head_ = n.next_;
    if (n.next_ != nullptr)
      node(*n.next_).prev_ = n.prev_;
    else
      tail_ = n.prev_;
    n.prev_ = n.next_ = nullptr;
    n.list_ = nullptr;
    --size_;
  }

  T* pop_front() noexcept {
    T* item = head_;
    if (item != nullptr) remove(*item);
    return item;
  }

 private:
  static Node& node(T& item) noexcept { return static_cast<Node&>(item); }
  static const Node& node(const T& item) noexcept { return static_cast<const Node&>(item); }

  T* head_ = nullptr;
  T* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace aiod::daemon
