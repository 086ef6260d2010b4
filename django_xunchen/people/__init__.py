"""One person's data: everything the app holds on a number (:mod:`.holdings`), its
export (:mod:`.export`) and its erasure (:mod:`.erase`), for a request under the PIPL."""
