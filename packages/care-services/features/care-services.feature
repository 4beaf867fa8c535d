Feature: Care services: the mCSD facility and health worker registry, through the interoperability layer

  Background:
    Given I use basic auth as "${CARE_SERVICES_TEST_CLIENT_ID}" with password "${CARE_SERVICES_TEST_CLIENT_PASSWORD}"

  Scenario: An ITI-130 feed creates a facility with its organisation; ITI-90 finds it near its position
    When I send a POST request to "${BASE_URL}/care-services/fhir" with the FHIR resource:
      """
      { "resourceType": "Bundle", "type": "transaction", "entry": [
        { "resource": { "resourceType": "Organization", "id": "feature-org", "active": true, "name": "Feature Test Clinic",
            "type": [{ "coding": [{ "system": "https://profiles.ihe.net/ITI/mCSD/CodeSystem/IHE.mCSD.Organization.Location.Types", "code": "facility" }] }] },
          "request": { "method": "PUT", "url": "Organization/feature-org" } },
        { "resource": { "resourceType": "Location", "id": "feature-loc", "status": "active", "name": "Feature Test Clinic",
            "type": [{ "coding": [{ "system": "https://profiles.ihe.net/ITI/mCSD/CodeSystem/IHE.mCSD.Organization.Location.Types", "code": "facility" }] }],
            "managingOrganization": { "reference": "Organization/feature-org" }, "position": { "latitude": -45.5, "longitude": 170.5 } },
          "request": { "method": "PUT", "url": "Location/feature-loc" } } ] }
      """
    Then the response status is 200
    When I send a GET request to "${BASE_URL}/care-services/fhir/Location?near=-45.5|170.5|1|km&_include=Location:organization"
    Then the response status is 200
    And the response JSON at "entry.0.resource.id" is "feature-loc"
    And the response body contains "feature-org"

  Scenario: Coordinates off the Earth are refused with a 422 OperationOutcome
    When I send a PUT request to "${BASE_URL}/care-services/fhir/Location/feature-bad" with the FHIR resource:
      """
      { "resourceType": "Location", "id": "feature-bad", "name": "Nowhere", "position": { "latitude": 123, "longitude": 0 } }
      """
    Then the response status is 422
    And the response JSON at "resourceType" is "OperationOutcome"
