//! Listing reports: filters and cursor paging over a few hundred reports.

use std::collections::HashSet;

use faxrelay_tests::{Backend, Tenant, TestApp, backend_test};
use futures_util::StreamExt;
use serde_json::{Value, json};

/// A REST-layout report; statuses, numbers and references cycle with `i`.
fn report(i: usize) -> Vec<u8> {
    let status = ["OK", "BUSY", "WRONG_NO"][i % 3];
    json!({
        "jobId": format!("FJTEST{i:05}"),
        "recipientStatus": [{"number": format!("+49 89 {i:07}"), "status": status, "sentTs": "2026-11-30T09:12:44Z", "durationInSecs": 10}],
        "pages": 1,
        "reference": {"customerDefinedId": format!("order-{}", i % 10)}
    })
    .to_string()
    .into_bytes()
}

async fn push_many(app: &TestApp, tenant: &Tenant, range: std::ops::Range<usize>) {
    let pushes = futures_util::stream::iter(range)
        .map(|i| async move {
            app.push_basic(tenant, report(i), "application/json")
                .await
                .status()
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    assert!(pushes.iter().all(|status| *status == 200), "{pushes:?}");
}

/// Every report a query lists, walking all pages.
async fn all_pages(app: &TestApp, tenant: &Tenant, query: &str) -> Vec<Value> {
    let mut reports = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let separator = if query.is_empty() { "" } else { "&" };
        let path = match &cursor {
            Some(cursor) => format!("/reports?{query}{separator}limit=200&cursor={cursor}"),
            None => format!("/reports?{query}{separator}limit=200"),
        };
        let page = app.get_json(&path, &tenant.api_key).await;
        reports.extend(page["data"].as_array().expect("data").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return reports,
        }
    }
}

async fn count(app: &TestApp, tenant: &Tenant, query: &str) -> usize {
    all_pages(app, tenant, query).await.len()
}

backend_test!(
    async fn reports_are_filtered_and_paged_newest_first(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let tenant = app.sign_up("basic").await;
        push_many(&app, &tenant, 0..150).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let between = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        push_many(&app, &tenant, 150..300).await;

        // Pages of 70, with new reports arriving in the middle of the walk.
        let mut seen = Vec::new();
        let first = app.get_json("/reports?limit=70", &tenant.api_key).await;
        seen.extend(
            first["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|r| r["id"].as_str().expect("id").to_owned()),
        );
        push_many(&app, &tenant, 300..305).await;
        let mut cursor = first["next_cursor"].as_str().map(str::to_owned);
        let mut pages = 1;
        while let Some(next) = cursor {
            let page = app
                .get_json(&format!("/reports?limit=70&cursor={next}"), &tenant.api_key)
                .await;
            let data = page["data"].as_array().expect("data");
            assert!(data.len() <= 70);
            seen.extend(
                data.iter()
                    .map(|r| r["id"].as_str().expect("id").to_owned()),
            );
            cursor = page["next_cursor"].as_str().map(str::to_owned);
            pages += 1;
        }
        assert_eq!(pages, 5);
        assert_eq!(
            seen.len(),
            300,
            "every report once; the new ones do not shift the pages"
        );
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 300);
        let mut sorted = seen.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(seen, sorted, "newest first");

        assert_eq!(count(&app, &tenant, "").await, 305);
        assert_eq!(count(&app, &tenant, "status=delivered").await, 102);
        assert_eq!(count(&app, &tenant, "recipient_status=busy").await, 102);
        assert_eq!(
            count(&app, &tenant, "recipient_category=wrong_number").await,
            101
        );
        assert_eq!(
            count(&app, &tenant, "customer_defined_id=order-3").await,
            31
        );
        assert_eq!(
            count(&app, &tenant, "status=failed&customer_defined_id=order-1").await,
            21
        );
        assert_eq!(
            count(
                &app,
                &tenant,
                &format!("received_before={}", urlencode(&between))
            )
            .await,
            150
        );
        assert_eq!(
            count(
                &app,
                &tenant,
                &format!("received_after={}", urlencode(&between))
            )
            .await,
            155
        );

        let by_job = all_pages(&app, &tenant, "job_id=FJTEST00007").await;
        assert_eq!(by_job.len(), 1);
        assert_eq!(by_job[0]["recipients"][0]["number"], "+49 89 0000007");
        for spelling in [
            "0049890000042",
            "+49-89-0000042",
            "+49 (89) 000 0042",
            "49890000042",
        ] {
            let found = all_pages(&app, &tenant, &format!("number={}", urlencode(spelling))).await;
            assert_eq!(found.len(), 1, "{spelling}");
            assert_eq!(found[0]["job_id"], "FJTEST00042");
        }
        assert_eq!(count(&app, &tenant, "number=%2B1%20555%200000").await, 0);
    }
);

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
