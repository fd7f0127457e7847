//! Every item of a list or describe call, over as many pages as AWS returns (the
//! emulator answers in one page, AWS in as many as it likes).

/// `all_pages!(request, vpcs, "DescribeVpcs")` inside a function returning `Result<_, ResourceError>`.
macro_rules! all_pages {
    ($request:expr, $list:ident, $op:literal) => {{
        let mut pages = $request.into_paginator().send();
        let mut all = Vec::new();
        while let Some(page) = pages.next().await {
            all.extend(page.map_err($crate::errors::aws($op))?.$list().iter().cloned());
        }
        all
    }};
}
pub(crate) use all_pages;

/// The items of a call that has no pages (`DescribeAddresses`), as `all_pages!` gives them.
macro_rules! one_page {
    ($request:expr, $list:ident, $op:literal) => {
        $request.send().await.map_err($crate::errors::aws($op))?.$list().to_vec()
    };
}
pub(crate) use one_page;
